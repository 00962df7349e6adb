"""Reading a project's cfg file into a typed, immutable `Config`.

Everything else (the project, the CLI, the console) receives a `Config`; only this module reads
cfg files. Validation collects every problem with its file and line before raising, so a user
fixes them all in one pass.

    config = load_config("examples/houses/default.cfg")
    config.name, config.modules, config.db_url, config.celery["broker_url"]
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import _values, schema
from ._celery_keys import variable_spelling
from ._document import parse_text, raw_sections, version_of
from .exceptions import ConfigError, ConfigProblem

#: Environment variables named FLASKER__<SECTION>__<KEY> override a key of the file.
ENV_PREFIX = "FLASKER__"
_PIP = "pip install"

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: flasker 0.1's default APP_FOLDER, still used when the cfg folder has no app files of its own.
LEGACY_APP_FOLDER = "app"


@dataclass(frozen=True)
class Config:
    """A validated cfg file: typed values per section, and where each was written."""

    path: Path
    sections: Mapping[str, Mapping[str, Any]]
    lines: Mapping[tuple[str, str], int | None] = field(repr=False)
    version: str = field(repr=False)
    #: (section, key) → the environment variables whose `${VAR:-default}` default was used.
    fallbacks: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict, repr=False)

    @property
    def folder(self) -> Path:
        """The folder of the cfg file: relative paths in it start here."""
        return self.path.parent

    def section(self, name: str) -> Mapping[str, Any]:
        return self.sections.get(name, _EMPTY)

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.section(section).get(key, default)

    def line_of(self, section: str, key: str) -> int | None:
        return self.lines.get((section, key))

    def error(self, section: str, key: str, problem: str) -> ConfigError:
        """A `ConfigError` pointing at where `key` was written (for checks done after loading)."""
        return ConfigError.at(str(self.path), self.line_of(section, key), section, key, problem)

    # -- [PROJECT] -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.get("PROJECT", "NAME") or self.folder.name

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(self.get("PROJECT", "MODULES", ()))

    @property
    def db_url(self) -> str:
        """DB_URL, or SQLite in the project folder: the embedded default."""
        url = self.get("PROJECT", "DB_URL")
        return url or f"sqlite:///{self.folder / 'db.sqlite'}"

    @property
    def autocommit(self) -> bool:
        return bool(self.get("PROJECT", "AUTOCOMMIT", True))

    @property
    def app_folder(self) -> Path:
        """APP_FOLDER, or the folder holding the app's templates and static files.

        Without APP_FOLDER it is the cfg file's folder, unless that folder has neither the
        templates nor the static folder and `app/` beside it has one of them: flasker 0.1's
        default APP_FOLDER was `app/`, so its projects keep `app/templates/` and `app/static/`
        with no APP_FOLDER written, and must render their templates unchanged. Looked up on
        the disk at each call, so a folder created after loading counts.
        """
        written = self.get("PROJECT", "APP_FOLDER")
        if written:
            return self.folder / str(written)
        names = [self.get("PROJECT", key) for key in ("TEMPLATE_FOLDER", "STATIC_FOLDER")]
        names = [name for name in names if name]
        legacy = self.folder / LEGACY_APP_FOLDER
        if not any((self.folder / name).is_dir() for name in names) and any(
            (legacy / name).is_dir() for name in names
        ):
            return legacy
        return self.folder

    @property
    def state_folder(self) -> Path:
        """Where the embedded broker and result store keep their files."""
        return self.folder / ".flasker"

    # -- other sections ---------------------------------------------------------------------
    @property
    def app(self) -> Mapping[str, Any]:
        return self.section("APP")

    @property
    def celery(self) -> Mapping[str, Any]:
        """Celery settings under Celery 5's names, whatever spelling the file used."""
        return self.section("CELERY")

    @property
    def engine(self) -> Mapping[str, Any]:
        return self.section("ENGINE")

    @property
    def is_embedded_broker(self) -> bool:
        """True when no broker is configured: flasker then runs the on-disk broker."""
        return not self.celery.get("broker_url")


def load_config(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate a cfg file; raise `ConfigError` listing every problem."""
    file = Path(path).absolute()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.at(str(file), None, None, None, "no such file") from None
    except IsADirectoryError:
        raise ConfigError.at(str(file), None, None, None, "is a folder, not a cfg file") from None
    except UnicodeDecodeError as error:
        raise ConfigError.at(
            str(file), None, None, None, f"is not UTF-8 text ({error.reason})"
        ) from None
    except OSError as error:
        raise ConfigError.at(str(file), None, None, None, f"cannot be read: {error}") from None
    return parse_config(text, file, environ)


def parse_config(
    text: str, path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> Config:
    """Validate cfg text as if it were the file at `path` (the editor checks unsaved text so)."""
    env = os.environ if environ is None else environ
    file = Path(path).absolute()
    where = str(file)
    problems: list[ConfigProblem] = []
    sections: dict[str, list[schema.Entry]] = {}
    section_lines: dict[str, int] = {}

    for raw in raw_sections(parse_text(text, where)):
        section_lines[raw.name] = raw.line
        sections[raw.name] = [schema.Entry(o.key, o.raw, o.line) for o in raw.options]
    overrides = _env_overrides(env, sections)

    values: dict[str, Mapping[str, Any]] = {}
    lines: dict[tuple[str, str], int | None] = {}
    fallbacks: dict[tuple[str, str], tuple[str, ...]] = {}
    for name, entries in sections.items():
        found = schema.lookup(name)
        if found is None:
            origin = where
            if name not in section_lines:  # only environment variables name it
                origin = "$" + min(v for (s, _), v in overrides.items() if s == name)
            problems.append(
                ConfigProblem(origin, section_lines.get(name), name, None, _unknown_section(name))
            )
            continue
        declared, validate = found

        def report(entry: schema.Entry, problem: str, section: str = name) -> None:
            origin = overrides.get((section, entry.key))
            if origin:
                problems.append(ConfigProblem(f"${origin}", None, section, entry.key, problem))
            else:
                problems.append(ConfigProblem(where, entry.line, section, entry.key, problem))

        typed_entries = []
        for entry in entries:
            used: list[str] = []
            try:
                typed_entries.append(
                    schema.Entry(entry.key, _values.interpolate(entry.raw, env, used), entry.line)
                )
            except _values.ValueProblem as problem:
                report(entry, str(problem))
            if used:
                fallbacks[(name, entry.key)] = tuple(used)
        section_values = {**declared.defaults(), **validate(typed_entries, report)}
        values[name] = MappingProxyType(section_values)
        written = {e.key: e.line for e in entries}
        for key in section_values:
            lines[(name, key)] = written.get(key, _line_of_renamed(key, entries, name))

    if problems:
        raise ConfigError(*sorted(problems, key=lambda p: (p.path, p.line or 0)))
    for name in ("PROJECT",):  # always present, with its defaults
        if name not in values:
            values[name] = MappingProxyType(schema.lookup(name)[0].defaults())  # type: ignore[index]
    return Config(
        file,
        MappingProxyType(values),
        MappingProxyType(lines),
        version_of(text),
        MappingProxyType(fallbacks),
    )


def _line_of_renamed(key: str, entries: list[schema.Entry], section: str) -> int | None:
    """Line of a key the validator renamed (BROKER_URL → broker_url, CACHE_TYPE → TYPE)."""
    for entry in entries:
        if schema.setting_name(section, entry.key) == key:
            return entry.line
    return None


def _unknown_section(name: str) -> str:
    if name in schema.LEGACY_SECTIONS:
        return schema.LEGACY_SECTIONS[name]
    package = schema.EXTENSION_SECTIONS.get(name)
    if package:
        if importlib.util.find_spec(package.replace("-", "_")) is None:
            return (
                f"section [{name}] belongs to {package}, which is not installed ({_PIP} {package})"
            )
        return f"section [{name}] belongs to {package}, whose version does not declare it yet"
    hint = schema.suggest(name, schema.all_section_names())
    if hint:
        return f"unknown section; did you mean [{hint}]?"
    return "unknown section (known: " + ", ".join(schema.all_section_names()) + ")"


def _env_overrides(
    env: Mapping[str, str], sections: dict[str, list[schema.Entry]]
) -> dict[tuple[str, str], str]:
    """Apply FLASKER__SECTION__KEY variables over the file; return which keys they set."""
    origins: dict[tuple[str, str], str] = {}
    for variable in sorted(env):
        if not variable.startswith(ENV_PREFIX):
            continue
        section, sep, key = variable[len(ENV_PREFIX) :].partition("__")
        if not sep or not section or not key:
            continue
        key = _env_spelling(section, key)
        entries = sections.setdefault(section, [])
        setting = schema.setting_name(section, key)
        entries[:] = [e for e in entries if schema.setting_name(section, e.key) != setting]
        entries.append(schema.Entry(key, env[variable], None))
        origins[(section, key)] = variable
    return origins


def _env_spelling(section: str, key: str) -> str:
    """The key an environment variable means (see `_celery_keys.variable_spelling`)."""
    if section == "CELERY":
        return variable_spelling(key)
    return key
