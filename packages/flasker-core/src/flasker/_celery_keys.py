"""Celery setting names: old upper-case ones mapped to Celery 5 names with Celery's own table.

The table is read through Celery's public `celery.app.defaults` API: `flatten(NAMESPACES)`
lists every setting, and each `Option` names its old spellings (`Option.old`), from which
Celery builds its private compatibility table. Reading the declarations rather than a table
written here means a setting Celery renames tomorrow is mapped without a change here;
`tests/test_celery_keys.py` pins the result to the installed Celery's own table.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from . import _values
from .section_schema import Entry, Report, suggest


@cache
def _tables() -> tuple[dict[str, Any], dict[str, str]]:
    """Celery's settings by their Celery 5 name, and {old name: Celery 5 name}."""
    from celery.app.defaults import NAMESPACES, flatten

    options = dict(flatten(NAMESPACES))
    old_to_new = dict(flatten(NAMESPACES, keyfilter=_old_names))
    return options, old_to_new


def _old_names(namespace: str, key: str, option: Any) -> list[tuple[str, str]]:
    """(old name, Celery 5 name) pairs of one setting: its `old` patterns (`celery_{0}`,
    `celeryd_{0}`) formatted with the key, in upper case; a setting with none had the upper
    case of its new name."""
    new = namespace + key
    if option.old:
        return [(pattern.format(key).upper(), new) for pattern in option.old]
    return [(new.upper(), new)]


def known_celery_names() -> list[str]:
    options, old_to_new = _tables()
    return [*options, *old_to_new]


def new_name(key: str) -> str | None:
    """Celery 5's name of `key` (either spelling), or None when Celery has no such setting."""
    options, old_to_new = _tables()
    if key in options:
        return key
    return old_to_new.get(key)


def variable_spelling(key: str) -> str:
    """The key an environment variable means. Variables are written in upper case by habit,
    and Celery 5's names are lower case: `FLASKER__CELERY__RESULT_BACKEND` means
    `result_backend`, as it would in a deployment's env file. A name that is an old Celery
    setting (`BROKER_URL`, `CELERYD_CONCURRENCY`) keeps its own meaning."""
    if key.isupper() and new_name(key) is None and new_name(key.lower()) is not None:
        return key.lower()
    return key


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
