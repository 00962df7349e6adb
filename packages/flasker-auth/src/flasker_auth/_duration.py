"""Durations written by people: `30d`, `12h`, `90m`, `2w`, `never`."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> timedelta | None:
    """A timedelta, or None for `never`/`none`/`0`; ValueError names the accepted forms."""
    word = text.strip().lower()
    if word in ("never", "none", "0"):
        return None
    match = _PATTERN.match(word)
    if not match or int(match.group(1)) == 0:
        raise ValueError(
            f"cannot read the duration {text!r}: write a number and a unit (s, m, h, d, w), "
            "e.g. 30d or 12h, or never"
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
