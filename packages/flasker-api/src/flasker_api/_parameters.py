"""The reserved parameter names of the query string, and the small readers every parser of it
shares (the last value of a parameter, a whole number, a `fields[<type>]` key).

Kept apart so that the parsers of filters, selections and cursors (filters.py, selection.py,
cursor.py) and query.py, which combines them, read parameters the same way.
"""

from __future__ import annotations

from collections.abc import Mapping

from .problems import ProblemCollector

#: Parameters of a list request that are not filters.
LIST_PARAMETERS = ("sort", "limit", "offset", "after", "fields", "include", "depth", "count", "or")
#: Parameters of a single-object request.
ITEM_PARAMETERS = ("fields", "include", "depth")


def is_fields_key(name: str) -> bool:
    """`fields[<type>]`: the fields shown for an included type."""
    return name.startswith("fields[") and name.endswith("]")


def one(by_name: Mapping[str, list[str]], name: str) -> str | None:
    """The value of a parameter given once (the last one; a repeat is reported elsewhere)."""
    values = by_name.get(name)
    return values[-1] if values else None


def parse_int(
    text: str | None, name: str, default: int | None, problems: ProblemCollector
) -> int | None:
    """A whole number, 0 or more (`limit`, `offset`, `depth`); `default` when absent or bad
    (a bad one is reported to `problems`)."""
    if text is None:
        return default
    stripped = text.strip()
    if not stripped.isdigit() or not stripped.isascii() or len(stripped) > 12:
        problems.parameter(name, f"expected a whole number, 0 or more, got {text!r}")
        return default
    return int(stripped)
