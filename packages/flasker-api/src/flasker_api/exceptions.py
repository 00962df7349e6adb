"""Errors flasker-api raises on purpose."""

from __future__ import annotations

from flasker.exceptions import FlaskerError


class APIError(FlaskerError):
    """Base class for every error flasker-api raises on purpose."""


class APISetupError(APIError):
    """The API is declared wrongly (an unknown model, relation or option): a developer error,
    raised at start-up rather than on the first request."""
