"""Parsing cfg text with configupdater, the one parser for reading and for round-trip edits.

configupdater keeps comments and order, which the editor needs; it does not record line numbers,
so they are counted here from the blocks it keeps, line for line.
"""

from __future__ import annotations

import configparser
import hashlib
from dataclasses import dataclass

from configupdater import ConfigUpdater
from configupdater.block import Block
from configupdater.option import Option
from configupdater.section import Section

from .exceptions import ConfigError, ConfigProblem


def new_updater() -> ConfigUpdater:
    """A configupdater that keeps key case, as flasker 0.1 read keys case-sensitively."""
    updater = ConfigUpdater(delimiters=("=", ":"), comment_prefixes=("#", ";"), strict=True)
    # configparser's documented way to keep key case; the stubs type it as a method.
    updater.optionxform = str  # type: ignore[method-assign,assignment]
    return updater


def version_of(text: str) -> str:
    """The content hash a write must be based on (see `ConfigDocument.save`)."""
    return hashlib.sha256(text.encode()).hexdigest()


def parse_text(text: str, path: str) -> ConfigUpdater:
    """Parse cfg text, turning configparser's syntax errors into one `ConfigError`."""
    updater = new_updater()
    try:
        updater.read_string(text, source=path)
    except configparser.MissingSectionHeaderError as error:
        raise ConfigError.at(
            path,
            error.lineno,
            None,
            None,
            f"expected a [SECTION] header before {error.line.strip()!r}",
        ) from None
    except configparser.DuplicateSectionError as error:
        raise ConfigError.at(
            path, error.lineno, error.section, None, "section appears twice; merge them"
        ) from None
    except configparser.DuplicateOptionError as error:
        raise ConfigError.at(
            path, error.lineno, error.section, error.option, "key appears twice in this section"
        ) from None
    except configparser.ParsingError as error:
        problems = [
            ConfigProblem(
                path,
                lineno,
                None,
                None,
                f"cannot read {_shown(line)}: expected 'KEY = value', a [SECTION] header or "
                "a comment",
            )
            for lineno, line in error.errors
        ]
        raise ConfigError(*problems) from None
    return updater


def _shown(line: str) -> str:
    """configparser reports the offending line as repr() text with its newline."""
    text = line.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return repr(text.replace("\\n", "").strip())


@dataclass(frozen=True)
class RawOption:
    section: str
    key: str
    raw: str
    line: int


@dataclass(frozen=True)
class RawSection:
    name: str
    line: int
    options: tuple[RawOption, ...]


def raw_sections(updater: ConfigUpdater) -> list[RawSection]:
    """Every section with its options' raw text and the line each starts on (1-based)."""
    sections: list[RawSection] = []
    line = 1
    for block in updater.iter_blocks():
        if isinstance(block, Section):
            header_line = line
            line += len(block.lines)
            options: list[RawOption] = []
            for child in block.iter_blocks():
                if isinstance(child, Option):
                    value = child.value if child.value is not None else ""
                    options.append(RawOption(block.name, child.key, value, line))
                line += _line_count(child)
            sections.append(RawSection(block.name, header_line, tuple(options)))
        else:
            line += _line_count(block)
    return sections


def _line_count(block: Block) -> int:
    return len(block.lines)
