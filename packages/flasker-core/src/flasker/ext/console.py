"""`from flasker.ext.console import ConsoleManager`: re-exports flasker-console."""

from __future__ import annotations

from ._optional import require

_module = require("flasker_console", "flasker-console", "flasker.ext.console")
globals().update({name: getattr(_module, name) for name in _module.__all__})
__all__ = list(_module.__all__)
