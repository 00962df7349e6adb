"""`from flasker.ext.api import APIManager`: re-exports flasker-api."""

from __future__ import annotations

from ._optional import require

_module = require("flasker_api", "flasker-api", "flasker.ext.api")
globals().update({name: getattr(_module, name) for name in _module.__all__})
__all__ = list(_module.__all__)
