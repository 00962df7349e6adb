"""Placeholder: serves flasker's bundled front-end assets (filled in by the assets work)."""

from __future__ import annotations

from typing import Any


def init_assets(app: Any) -> None:
    """Register the blueprint serving flasker's static assets on `app`."""
