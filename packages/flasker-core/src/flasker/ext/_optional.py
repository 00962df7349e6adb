"""Importing an optional extension package with a clear message when it is absent."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..exceptions import FlaskerError


class MissingExtensionError(FlaskerError, ImportError):
    """An optional flasker package is not installed."""


def require(module: str, distribution: str, old_path: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise
        raise MissingExtensionError(
            f"{old_path} needs the {distribution} package: pip install {distribution}"
        ) from None
