"""The machinery of cfg sections: `Key`, `SectionSchema`, and the `Entry` a validator reads.

A section declares its keys (name, type, default, documentation) with a `SectionSchema`; its
validator turns the entries written in the cfg into typed values and reports each bad one
with its line. Core declares its sections with it (`flasker.sections`), extension packages
theirs (`[API]`, `[AUTH]`, `[CONSOLE]`), and `flasker.schema` finds them all.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from . import _values


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
