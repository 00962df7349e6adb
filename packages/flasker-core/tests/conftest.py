"""Fixtures of flasker-core's tests; the helpers behind them live in `_project_helpers`."""

from __future__ import annotations

from ._project_helpers import isolated, make_project

__all__ = ["isolated", "make_project"]
