"""flasker 0.1's utility import path: `from flasker.util import Model`."""

from __future__ import annotations

from .json import dumps as jsonify_bytes
from .model import Model, table_name

__all__ = ["Model", "jsonify_bytes", "table_name"]
