"""Calls run side by side under one deadline, for the console's checks and broadcasts.

The implementation is core's `flasker.deadline.side_by_side` (which `flasker check`'s
`within` shares its thread runner with); the console's modules import it from here.
"""

from __future__ import annotations

from flasker.deadline import side_by_side

__all__ = ["side_by_side"]
