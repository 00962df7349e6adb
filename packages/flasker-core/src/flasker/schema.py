"""What each cfg section may contain, and where that is declared: the registry of sections.

Core declares its own sections (`flasker.sections`, validated by `flasker.section_validators`);
extension packages declare theirs (`[API]`, `[AUTH]`, `[CONSOLE]`) with the same
`SectionSchema` (`flasker.section_schema`) and expose it through the entry-point group
`flasker.config_sections`, so core validates every section the same way without importing the
extensions' code. The console reads the same schemas to document keys next to their values.
The names of those modules are importable from here, as they always were.

Example, in an extension's ``pyproject.toml``::

    [project.entry-points."flasker.config_sections"]
    API = "flasker_api.settings:API_SECTION"
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from .section_schema import Entry, Key, Report, SectionSchema, suggest, unknown_key_message
from .section_validators import builtin_sections, setting_name
from .sections import (
    APP,
    CACHE,
    CELERY,
    ENGINE,
    EXTENSION_SECTIONS,
    FLASK_KEY_TYPES,
    LEGACY_PROJECT_KEYS,
    LEGACY_SECTIONS,
    LOGGING,
    PROJECT,
    PROJECT_ALIASES,
)

__all__ = [
    "APP",
    "CACHE",
    "CELERY",
    "ENGINE",
    "EXTENSION_SECTIONS",
    "FLASK_KEY_TYPES",
    "LEGACY_PROJECT_KEYS",
    "LEGACY_SECTIONS",
    "LOGGING",
    "PROJECT",
    "PROJECT_ALIASES",
    "Entry",
    "Key",
    "Report",
    "SectionSchema",
    "all_section_names",
    "builtin_sections",
    "extension_sections",
    "lookup",
    "register_section",
    "setting_name",
    "suggest",
    "unknown_key_message",
]

_extra_sections: dict[str, SectionSchema] = {}


def register_section(schema: SectionSchema) -> None:
    """Declare a section from code (tests, or an extension not installed as a distribution)."""
    _extra_sections[schema.name] = schema


@cache
def _entry_point_sections() -> dict[str, SectionSchema]:
    found: dict[str, SectionSchema] = {}
    for point in entry_points(group="flasker.config_sections"):
        schema = point.load()
        if not isinstance(schema, SectionSchema):
            raise TypeError(f"entry point {point.value} is not a flasker.schema.SectionSchema")
        found[point.name] = schema
    return found


def extension_sections() -> dict[str, SectionSchema]:
    """Every section declared by an installed extension (or registered from code)."""
    return {**_entry_point_sections(), **_extra_sections}


def lookup(name: str) -> tuple[SectionSchema, Callable[..., dict[str, Any]]] | None:
    """The schema and validator of a section name, or None when nobody declares it."""
    builtin = builtin_sections().get(name)
    if builtin:
        return builtin
    schema = extension_sections().get(name)
    return (schema, schema.validate) if schema else None


def all_section_names() -> list[str]:
    return [*builtin_sections(), *extension_sections()]
