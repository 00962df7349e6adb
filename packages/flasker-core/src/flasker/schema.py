"""What each cfg section may contain: keys, types, defaults and documentation.

Core declares its own sections here; extension packages declare theirs (`[API]`, `[AUTH]`,
`[CONSOLE]`) with the same `SectionSchema` and expose it through the entry-point group
`flasker.config_sections`, so core validates every section the same way without importing the
extensions' code. The console reads the same schemas to document keys next to their values.

Example, in an extension's ``pyproject.toml``::

    [project.entry-points."flasker.config_sections"]
    API = "flasker_api.settings:API_SECTION"
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Self

from . import _values

#: Extension sections and the distribution that declares each, to explain an unknown section.
EXTENSION_SECTIONS = {"API": "flasker-api", "AUTH": "flasker-auth", "CONSOLE": "flasker-console"}


@dataclass(frozen=True)
class Key:
    """One documented key of a section."""

    name: str
    type: str = "str"
    default: Any = None
    doc: str = ""
    choices: tuple[str, ...] = ()

    def convert(self, text: str) -> Any:
        value = _values.convert(text, self.type)
        if self.choices and value not in self.choices:
            allowed = ", ".join(self.choices)
            raise _values.ValueProblem(f"expected one of {allowed}, got {value!r}")
        return value


@dataclass(frozen=True)
class Entry:
    """A key as the validator sees it: the name written, the raw text, where it was written."""

    key: str
    raw: str
    line: int | None


# A validator turns a section's entries into typed values, calling `report(entry, problem)` for
# each bad one. It returns {final key: value}.
Report = Callable[[Entry, str], None]


@dataclass(frozen=True)
class SectionSchema:
    """A section's keys and how unknown ones are treated.

    `open=True` accepts keys that are not declared (typed by `_values.guess`), as Flask's own
    config accepts any key an app invents.
    """

    name: str
    keys: Mapping[str, Key] = field(default_factory=dict)
    doc: str = ""
    open: bool = False

    @classmethod
    def of(cls, name: str, keys: Iterable[Key], doc: str = "", open: bool = False) -> Self:
        return cls(name, {k.name: k for k in keys}, doc, open)

    def defaults(self) -> dict[str, Any]:
        return {k.name: k.default for k in self.keys.values() if k.default is not None}

    def known_names(self) -> list[str]:
        return list(self.keys)

    def validate(self, entries: list[Entry], report: Report) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for entry in entries:
            declared = self.keys.get(entry.key)
            try:
                if declared is not None:
                    values[entry.key] = declared.convert(entry.raw)
                elif self.open:
                    values[entry.key] = _values.guess(entry.raw)
                else:
                    report(entry, unknown_key_message(entry.key, self.known_names(), self.name))
            except _values.ValueProblem as problem:
                report(entry, str(problem))
        return values


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate to `word`, ignoring case, or None when nothing is close."""
    by_folded = {c.casefold(): c for c in candidates}
    match = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return by_folded[match[0]] if match else None


def unknown_key_message(key: str, known: Iterable[str], section: str) -> str:
    known = list(known)
    hint = suggest(key, known)
    if hint:
        return f"unknown key; did you mean {hint}?"
    listed = ", ".join(sorted(known)) if known else "none"
    return f"unknown key in [{section}] (known keys: {listed})"


PROJECT = SectionSchema.of(
    "PROJECT",
    [
        Key("NAME", doc="Human name of the project; defaults to the cfg folder's name."),
        Key(
            "MODULES",
            "list",
            (),
            "Modules imported in order at start-up (comma list), with the cfg folder on sys.path.",
        ),
        Key(
            "DB_URL",
            doc="SQLAlchemy database URL; defaults to SQLite in the project folder (db.sqlite).",
        ),
        Key(
            "APP_FOLDER",
            doc="Folder of the Flask app (where TEMPLATE_FOLDER and STATIC_FOLDER are), relative "
            "to the cfg file. Default: the cfg file's folder; but when that folder has neither "
            "of them and app/ beside it has one, app/ (flasker 0.1's default layout).",
        ),
        Key(
            "STATIC_FOLDER",
            doc="Static files folder, relative to APP_FOLDER (flasker 0.1: APP_STATIC_FOLDER).",
            default="static",
        ),
        Key("STATIC_URL", doc="URL path the static folder is served at.", default="/static"),
        Key(
            "TEMPLATE_FOLDER",
            doc="Templates folder, relative to APP_FOLDER (flasker 0.1: APP_TEMPLATE_FOLDER).",
            default="templates",
        ),
        Key(
            "AUTOCOMMIT",
            "bool",
            True,
            "Commit db.session after each successful request and task, roll back on error "
            "(flasker 0.1's SMARTCOMMIT).",
        ),
        Key(
            "CREATE_TABLES",
            "bool",
            True,
            "Create missing tables at start-up while the project has no migrations folder.",
        ),
    ],
    "The project itself: its name, its modules and its database.",
)

#: flasker 0.1's names of [PROJECT] keys, read as ours (same meaning, relative to APP_FOLDER).
PROJECT_ALIASES = {"APP_STATIC_FOLDER": "STATIC_FOLDER", "APP_TEMPLATE_FOLDER": "TEMPLATE_FOLDER"}

#: Keys and sections of later flasker 0.1.x versions that have no counterpart to alias: what to
#: write instead. (Renaming [FLASK] to [APP] silently would make the console's editor write a
#: second, [APP], section beside it.)
LEGACY_PROJECT_KEYS = {
    "DISABLE_FLASK": "flasker 0.1's DISABLE_FLASK is not needed: the Flask app is built only "
    "when something uses it; remove this key",
    "DISABLE_CELERY": "flasker 0.1's DISABLE_CELERY is not needed: the Celery app is built only "
    "when something uses it (flasker server --no-worker starts no worker); remove this key",
}
LEGACY_SECTIONS = {
    "FLASK": "flasker 0.1's [FLASK] section is called [APP] here: rename the section header",
    "SESSION": "flasker 0.1's [SESSION] SMARTCOMMIT is [PROJECT] AUTOCOMMIT here (on by default)"
    ": move or remove this section",
}


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
        key = PROJECT_ALIASES.get(entry.key, entry.key)
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


APP = SectionSchema(
    "APP",
    doc="Any Flask configuration option (see Flask's documentation); apps may add their own keys.",
    open=True,
)

ENGINE = SectionSchema.of(
    "ENGINE",
    # create_engine's common arguments, typed so that `pool_size = many` is reported at its line
    # rather than as an arithmetic error from the pool; other (dialect) arguments stay open.
    [
        Key("echo", "bool", doc="Log every SQL statement."),
        Key("echo_pool", "bool", doc="Log connection pool check-ins and check-outs."),
        Key("pool_size", "int", doc="Connections kept open in the pool."),
        Key("max_overflow", "int", doc="Connections allowed beyond pool_size."),
        Key("pool_timeout", "float", doc="Seconds to wait for a free connection."),
        Key("pool_recycle", "int", doc="Seconds after which a connection is replaced (-1: never)."),
        Key("pool_pre_ping", "bool", doc="Test each connection before use."),
        Key("pool_use_lifo", "bool", doc="Reuse the most recent connection first."),
        Key("isolation_level", "str", doc="e.g. READ COMMITTED, SERIALIZABLE, AUTOCOMMIT."),
        Key("connect_args", "json", doc="JSON object passed to the DBAPI's connect()."),
        Key("execution_options", "json", doc="JSON object of default execution options."),
    ],
    doc=(
        "Extra keyword arguments for SQLAlchemy's create_engine (e.g. pool_size = 10, echo = true)."
    ),
    open=True,
)

CACHE = SectionSchema.of(
    "CACHE",
    [
        Key(
            "TYPE",
            default="SimpleCache",
            doc="Flask-Caching backend: NullCache, SimpleCache (in-process), RedisCache, "
            "FileSystemCache, or an import path.",
        ),
        Key("DEFAULT_TIMEOUT", "int", 300, "Seconds an entry lives unless told otherwise."),
        Key("KEY_PREFIX", doc="Prefix of every key (shared Redis servers)."),
        Key("THRESHOLD", "int", doc="Most entries kept by SimpleCache/FileSystemCache."),
        Key("REDIS_URL", doc="Redis URL for RedisCache, e.g. redis://127.0.0.1:6379/1."),
        Key("DIR", doc="Folder for FileSystemCache, relative to the cfg file."),
        Key("IGNORE_ERRORS", "bool", doc="Ignore errors of delete_many on backends that fail."),
        Key("OPTIONS", "dict", doc="Extra keyword arguments for the backend (JSON object)."),
    ],
    "Caching through Flask-Caching, available as project.cache.",
)

LOGGING = SectionSchema.of(
    "LOGGING",
    [
        Key(
            "LEVEL",
            default="INFO",
            choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
            doc="Level of the root logger.",
        ),
        Key(
            "FORMAT",
            default="plain",
            choices=("plain", "json"),
            doc="plain text lines, or one JSON object per line for log collectors.",
        ),
        Key("FILE", doc="Write logs to this file (relative to the cfg file) instead of stderr."),
        Key("LEVELS", "dict", doc='Per-logger levels, e.g. {"sqlalchemy.engine": "INFO"}.'),
    ],
    "Logging of the app, the workers and the CLI.",
)


#: Flask keys whose default is None, so their type cannot be read off `Flask.default_config`.
FLASK_KEY_TYPES = {
    "DEBUG": "bool",
    "PROPAGATE_EXCEPTIONS": "bool",
    "TRAP_BAD_REQUEST_ERRORS": "bool",
    "TEMPLATES_AUTO_RELOAD": "bool",
    "MAX_CONTENT_LENGTH": "int",
    "SEND_FILE_MAX_AGE_DEFAULT": "int",
    "SECRET_KEY": "str",
    "SERVER_NAME": "str",
    "SESSION_COOKIE_DOMAIN": "str",
    "SESSION_COOKIE_PATH": "str",
    "SESSION_COOKIE_SAMESITE": "str",
    "SECRET_KEY_FALLBACKS": "list",
    "TRUSTED_HOSTS": "list",
}


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


@cache
def builtin_sections() -> dict[str, tuple[SectionSchema, Callable[..., dict[str, Any]]]]:
    """Core's sections, each with its validator."""
    from ._celery_keys import validate_celery

    celery = SectionSchema(
        "CELERY",
        doc="Any Celery setting, in Celery 5 lower-case names or the old upper-case ones.",
    )
    return {
        "PROJECT": (PROJECT, _validate_project),
        "APP": (APP, _validate_app),
        "CELERY": (celery, validate_celery),
        "ENGINE": (ENGINE, _validate_engine),
        "CACHE": (CACHE, _validate_cache),
        "LOGGING": (LOGGING, LOGGING.validate),
    }


def _validate_engine(entries: list[Entry], report: Report) -> dict[str, Any]:
    """create_engine's keyword arguments are lower case; flasker 0.1 lower-cased them too."""
    lowered = [Entry(e.key.lower(), e.raw, e.line) for e in entries]
    return ENGINE.validate(lowered, report)


def _validate_cache(entries: list[Entry], report: Report) -> dict[str, Any]:
    """Flask-Caching's `CACHE_` prefix is optional: the section name already says it."""
    stripped = [Entry(e.key.removeprefix("CACHE_"), e.raw, e.line) for e in entries]
    return CACHE.validate(stripped, report)


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
