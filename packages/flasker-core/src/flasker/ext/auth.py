"""`from flasker.ext.auth import GoogleAuthManager`: re-exports flasker-auth."""

from __future__ import annotations

from ._optional import require

_module = require("flasker_auth", "flasker-auth", "flasker.ext.auth")
globals().update({name: getattr(_module, name) for name in _module.__all__})
__all__ = list(_module.__all__)
