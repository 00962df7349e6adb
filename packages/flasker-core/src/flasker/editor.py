"""Round-trip editing of a cfg file: change keys, keep comments and order, write atomically.

The console's cfg editor is built on this, and so can any tool: open a document, change it,
look at the diff, save. A save validates the new text with the loader first (invalid text never
reaches the file) and is refused when the file changed on disk since it was opened::

    doc = ConfigDocument.open("default.cfg")
    doc.set("APP", "DEBUG", "false")
    print(doc.diff())
    doc.save()          # raises ConfigError (invalid) or StaleConfigError (changed meanwhile)
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path

from configupdater import ConfigUpdater

from ._atomic import atomic_write, locked
from ._document import parse_text, version_of
from .config import Config, parse_config
from .exceptions import ConfigError, StaleConfigError


class ConfigDocument:
    """A cfg file opened for editing, remembering the version it was read at."""

    def __init__(self, path: str | os.PathLike[str], text: str, version: str | None = None):
        self.path = Path(path).absolute()
        self.base_text = text
        #: Content hash of the text this document started from; a save requires the file
        #: on disk to still have it. Pass an older version to check an edit made from it.
        self.version = version or version_of(text)
        self._updater: ConfigUpdater = parse_text(text, str(self.path))

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ConfigDocument:
        file = Path(path)
        return cls(file, file.read_text(encoding="utf-8"))

    # -- reading ---------------------------------------------------------------------------
    @property
    def text(self) -> str:
        return str(self._updater)

    def sections(self) -> list[str]:
        return self._updater.sections()

    def items(self, section: str) -> list[tuple[str, str]]:
        """The keys of a section as written (raw text, before interpolation and typing)."""
        if not self._updater.has_section(section):
            return []
        return [(o.key, o.value or "") for o in self._updater[section].iter_options()]

    def diff(self) -> str:
        """Unified diff from the opened text to the current one."""
        name = self.path.name
        return "".join(
            difflib.unified_diff(
                self.base_text.splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=f"{name} (on disk)",
                tofile=f"{name} (edited)",
            )
        )

    # -- changing --------------------------------------------------------------------------
    def set(self, section: str, key: str, value: str) -> None:
        """Set a key's raw text, adding the section (at the end) or key when missing."""
        _check_name(section, "section")
        _check_name(key, "key")
        if "\n" in value and any(not line.strip() for line in value.splitlines()[1:]):
            raise ConfigError.at(str(self.path), None, section, key, "blank line inside a value")
        if not self._updater.has_section(section):
            self._updater.add_section(section)
        self._updater[section][key] = value

    def update_section(self, section: str, values: Mapping[str, str]) -> None:
        """Make a section hold exactly `values`: keys kept in place, new ones appended."""
        for key in [k for k, _ in self.items(section) if k not in values]:
            self.remove(section, key)
        for key, value in values.items():
            self.set(section, key, value)

    def remove(self, section: str, key: str) -> None:
        if self._updater.has_section(section):
            self._updater.remove_option(section, key)

    def remove_section(self, section: str) -> None:
        self._updater.remove_section(section)

    def replace_text(self, text: str) -> None:
        """Replace the whole text (the editor's raw mode); it is parsed, not yet validated."""
        self._updater = parse_text(text, str(self.path))

    # -- checking and saving ---------------------------------------------------------------
    def validate(self, environ: Mapping[str, str] | None = None) -> Config:
        """Validate the current text exactly as `load_config` would; raise `ConfigError`."""
        return parse_config(self.text, self.path, environ)

    def save(self, environ: Mapping[str, str] | None = None) -> Config:
        """Validate, then atomically replace the file unless it changed since it was opened."""
        config = self.validate(environ)
        text = self.text
        with locked(self.path):
            current = self.path.read_text(encoding="utf-8")
            current_version = version_of(current)
            if current_version != self.version:
                raise StaleConfigError(str(self.path), self.version, current_version, current)
            atomic_write(self.path, text)
        self.base_text = text
        self.version = version_of(text)
        return config


def _check_name(name: str, what: str) -> None:
    if not name or name != name.strip() or any(c in name for c in "[]=:\n#;"):
        raise ConfigError.at("(edit)", None, None, None, f"invalid {what} name {name!r}")
