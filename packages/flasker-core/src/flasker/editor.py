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
import re
from collections.abc import Mapping
from pathlib import Path

from configupdater import ConfigUpdater
from configupdater.block import Comment
from configupdater.option import Option
from configupdater.section import Section

from ._atomic import atomic_write, locked, remove_temp_files
from ._document import parse_text, version_of

#: `version_of(text)`: the content hash a save compares against (public for the console).
__all__ = ["ConfigDocument", "cfg_diff", "version_of"]
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
        return cfg_diff(self.path.name, self.base_text, self.text)

    # -- changing --------------------------------------------------------------------------
    def set(self, section: str, key: str, value: str) -> None:
        """Set a key's raw text, adding the section (at the end) or key when missing.

        A new key goes right after the section's last key, so the blank line that separates the
        section from the next one stays below it; a new section gets a blank line above it.
        A value of several lines is written with its continuation lines indented.
        """
        _check_name(self.path, section, "section")
        _check_name(self.path, key, "key")
        lines = value.rstrip().split("\n")
        for line in lines[1:]:
            problem = None
            if not line.strip():
                problem = "blank line inside a value"
            elif line.strip()[0] in "#;":
                problem = (
                    f"a line of a value cannot start with # or ; (it reads as a comment): "
                    f"{line.strip()!r}"
                )
            if problem:
                raise ConfigError.at(str(self.path), None, section, key, problem)
        if not self._updater.has_section(section):
            self._add_section(section)
        block = self._updater[section]
        option = block.get(key)
        # written as text and parsed, so the line reads exactly as it is written: an existing
        # key keeps its own spelling of the separator ("DB_URL: ..." stays so)
        first = (_key_prefix(option, key) + lines[0].strip()).rstrip()
        raw = "".join([first, *(f"\n    {line.strip()}" for line in lines[1:])])
        parsed = parse_text(f"[{section}]\n{raw}\n", str(self.path))[section][key]
        parsed.detach()
        if option is None:
            block.insert_at(_new_key_index(block)).option(key, "")
        block[key] = parsed

    def _add_section(self, section: str) -> None:
        text = self.text
        if text.strip():
            text += "" if text.endswith("\n") else "\n"
            text += "" if text.endswith("\n\n") else "\n"
        self._updater = parse_text(f"{text}[{section}]\n", str(self.path))

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
        """Validate, then atomically replace the file unless it changed since it was opened.

        A process killed at any moment of a save leaves the old file or the new one, byte for
        byte; the temp file a kill before the rename leaves is removed by the next save."""
        config = self.validate(environ)
        text = self.text
        if not self.path.exists():
            raise ConfigError.at(
                str(self.path), None, None, None, "was deleted since it was opened; nothing saved"
            )
        with locked(self.path):
            current = self.path.read_text(encoding="utf-8")
            current_version = version_of(current)
            if current_version != self.version:
                raise StaleConfigError(str(self.path), self.version, current_version, current)
            remove_temp_files(self.path)  # left by a save that was killed before its rename
            atomic_write(self.path, text)
        self.base_text = text
        self.version = version_of(text)
        return config


#: The start of a key's line up to its value: the key, the separator and the spaces around it.
_KEY_PREFIX = re.compile(r"[^=:]*?\s*[=:][ \t]*")


def _key_prefix(option: Option | None, key: str) -> str:
    if option is None or not option.lines:
        return f"{key} = "
    match = _KEY_PREFIX.match(option.lines[0])
    return match.group(0) if match else f"{key} = "


def _check_name(path: Path, name: str, what: str) -> None:
    if not name or name != name.strip() or any(c in name for c in "[]=:\n#;"):
        raise ConfigError.at(str(path), None, None, None, f"invalid {what} name {name!r}")


def _new_key_index(section: Section) -> int:
    """Where a new key goes in a section: after its last key, or after the comments under its
    header when it has no key yet; never after the blank lines that end it."""
    blocks = list(section.iter_blocks())
    last_key = max((i for i, b in enumerate(blocks) if isinstance(b, Option)), default=None)
    if last_key is not None:
        return last_key + 1
    index = 0
    while index < len(blocks) and isinstance(blocks[index], Comment):
        index += 1
    return index


def cfg_diff(name: str, on_disk: str, edited: str) -> str:
    """Unified diff of a cfg file's text, as the editor and the console show it."""
    return "".join(
        difflib.unified_diff(
            on_disk.splitlines(keepends=True),
            edited.splitlines(keepends=True),
            fromfile=f"{name} (on disk)",
            tofile=f"{name} (edited)",
        )
    )
