"""Celery setting names: old upper-case ones mapped to Celery 5 names with Celery's own table.

Celery keeps that table (`celery.app.defaults._TO_NEW_KEY`) for its own compatibility layer;
reusing it means a setting Celery renames tomorrow is mapped without a change here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import _values
from .schema import Entry, Report, suggest


@cache
def _tables() -> tuple[dict[str, Any], dict[str, str]]:
    from celery.app import defaults

    options = dict(defaults.flatten(defaults.NAMESPACES))
    return options, dict(defaults._TO_NEW_KEY)


def known_celery_names() -> list[str]:
    options, old_to_new = _tables()
    return [*options, *old_to_new]


def new_name(key: str) -> str | None:
    """Celery 5's name of `key` (either spelling), or None when Celery has no such setting."""
    options, old_to_new = _tables()
    if key in options:
        return key
    return old_to_new.get(key)


def celery_option(name: str) -> Any:
    return _tables()[0].get(name)


_KINDS = {
    "string": "str",
    "str": "str",
    "bool": "bool",
    "int": "int",
    int: "int",
    "float": "float",
    "dict": "dict",
    "tuple": "tuple",
    "list": "tuple",
}


def convert_celery_value(name: str, raw: str) -> Any:
    """Type a value by Celery's own declared type of the setting."""
    option = celery_option(name)
    kind = _KINDS.get(option.type if option else "any", "any")
    if raw.strip().lower() in ("none", "null"):
        return None
    if kind == "tuple" and raw.strip()[:1] not in "[(":
        return _values.to_list(raw)
    if kind == "str":
        return _values.to_str(raw)
    return _values.convert(raw, kind)


def validate_celery(entries: list[Entry], report: Report) -> dict[str, Any]:
    """Map every key to Celery 5's name, type its value, and refuse two spellings of one setting."""
    values: dict[str, Any] = {}
    written_as: dict[str, Entry] = {}
    for entry in entries:
        name = new_name(entry.key)
        if name is None:
            report(entry, _unknown_message(entry.key))
            continue
        earlier = written_as.get(name)
        if earlier is not None:
            where = f" on line {earlier.line}" if earlier.line else ""
            report(
                entry,
                f"{entry.key} and {earlier.key}{where} are the same setting ({name}); keep one",
            )
            continue
        written_as[name] = entry
        try:
            values[name] = convert_celery_value(name, entry.raw)
        except _values.ValueProblem as problem:
            report(entry, str(problem))
    return values


def _unknown_message(key: str) -> str:
    """Say a key is not Celery's, naming the closest setting in both spellings when it has two."""
    hint = suggest(key, known_celery_names())
    if hint is None:
        return "unknown Celery setting (see Celery's configuration reference)"
    current = new_name(hint)
    if current is not None and current != hint:
        hint = f"{hint} (Celery 5: {current})"
    return f"unknown Celery setting; did you mean {hint}?"
