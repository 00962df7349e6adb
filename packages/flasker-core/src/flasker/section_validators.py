"""The validators of core's cfg sections: each turns a section's entries into typed values.

[PROJECT] reads flasker 0.1's key names as ours, [APP] types Flask's own keys by Flask's
defaults, [ENGINE] lower-cases create_engine's arguments, [CACHE] drops Flask-Caching's
`CACHE_` prefix, and [CELERY] is Celery's (`flasker._celery_keys`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from . import _values
from ._celery_keys import new_name, validate_celery
from .section_schema import Entry, Report, SectionSchema
from .sections import (
    APP,
    CACHE,
    CELERY,
    ENGINE,
    FLASK_KEY_TYPES,
    LEGACY_PROJECT_KEYS,
    LOGGING,
    PROJECT,
    PROJECT_ALIASES,
)


def _validate_project(entries: list[Entry], report: Report) -> dict[str, Any]:
    """[PROJECT], with flasker 0.1's key names read as ours so a 0.1 cfg loads unchanged.

    Writing both spellings of one key is reported at the second one, as for Celery's old and
    new names: which one wins would otherwise depend on their order.
    """
    renamed: list[Entry] = []
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.key in LEGACY_PROJECT_KEYS:
            report(entry, LEGACY_PROJECT_KEYS[entry.key])
            continue
        key = setting_name("PROJECT", entry.key)
        earlier = seen.get(key)
        if earlier is not None and earlier.key != entry.key:
            where = f" on line {earlier.line}" if earlier.line else ""
            report(
                entry,
                f"{entry.key} and {earlier.key}{where} are the same setting ({key}; "
                "flasker 0.1 called it APP_" + key + "); keep one",
            )
            continue
        seen[key] = entry
        renamed.append(Entry(key, entry.raw, entry.line))
    values: dict[str, Any] = PROJECT.validate(renamed, report)
    return values


def _flask_kind(key: str, default: Any) -> str | None:
    """The type of one of Flask's own keys, or None for a key Flask does not know."""
    from datetime import timedelta

    if key in FLASK_KEY_TYPES:
        return FLASK_KEY_TYPES[key]
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, timedelta | int):
        return "seconds" if isinstance(default, timedelta) else "int"
    if isinstance(default, str):
        return "str"
    return None


def _validate_app(entries: list[Entry], report: Report) -> dict[str, Any]:
    """Any key is allowed; Flask's own keys are checked against their type.

    A key Flask does not know is typed by `_values.guess`. A key Flask knows gets Flask's type,
    so `DEBUG = no` is False (not the truthy string "no") and `SECRET_KEY = 1234` stays a string.
    """
    from flask import Flask

    defaults = Flask.default_config
    values: dict[str, Any] = {}
    for entry in entries:
        kind = _flask_kind(entry.key, defaults.get(entry.key))
        text = entry.raw.strip()
        try:
            if kind is None:
                value = _values.guess(entry.raw)
            elif text.lower() in ("none", "null") and defaults.get(entry.key) is None:
                value = None
            elif kind == "seconds":
                value = _values.to_int(entry.raw)
            else:
                value = _values.convert(entry.raw, kind)
        except _values.ValueProblem as problem:
            message = str(problem)
            if kind == "seconds":
                message = f"expected a whole number (seconds), got {text!r}"
            report(entry, message)
            continue
        values[entry.key] = value
    return values


def _validate_engine(entries: list[Entry], report: Report) -> dict[str, Any]:
    """create_engine's keyword arguments are lower case; flasker 0.1 lower-cased them too."""
    lowered = [Entry(setting_name("ENGINE", e.key), e.raw, e.line) for e in entries]
    return ENGINE.validate(lowered, report)


def _validate_cache(entries: list[Entry], report: Report) -> dict[str, Any]:
    """Flask-Caching's `CACHE_` prefix is optional: the section name already says it."""
    stripped = [Entry(setting_name("CACHE", e.key), e.raw, e.line) for e in entries]
    return CACHE.validate(stripped, report)


def setting_name(section: str, key: str) -> str:
    """The setting a key written in `section` names, whatever its spelling: Celery 5's name of
    an old upper-case Celery key, an [ENGINE] key in lower case, a [CACHE] key without
    Flask-Caching's `CACHE_` prefix, ours for flasker 0.1's [PROJECT] names; else the key.

    The one place keys are renamed: the validators store values under it, and the cfg loader
    finds a value's line and lets an environment variable replace a key by it."""
    if section == "CELERY":
        return new_name(key) or key
    if section == "ENGINE":
        return key.lower()
    if section == "CACHE":
        return key.removeprefix("CACHE_")
    if section == "PROJECT":
        return PROJECT_ALIASES.get(key, key)
    return key


@cache
def builtin_sections() -> dict[str, tuple[SectionSchema, Callable[..., dict[str, Any]]]]:
    """Core's sections, each with its validator."""
    return {
        "PROJECT": (PROJECT, _validate_project),
        "APP": (APP, _validate_app),
        "CELERY": (CELERY, validate_celery),
        "ENGINE": (ENGINE, _validate_engine),
        "CACHE": (CACHE, _validate_cache),
        "LOGGING": (LOGGING, LOGGING.validate),
    }
