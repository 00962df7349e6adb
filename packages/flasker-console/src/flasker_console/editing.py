"""The cfg editor's forms applied to core's `ConfigDocument`: pure logic, no Flask.

Every form carries `base`, the exact text the page was rendered from (base64). Edits are
applied to a document opened on that text, so its version is the hash of what the operator
saw: a save is refused (`StaleConfigError`) when the file no longer has it, whatever happened
meanwhile, and a forged `base` can only make the save refused, never skip the check.

Field names of the section form (`:` cannot occur in a section or key name):

- `value:SECTION:KEY`: the new raw text of an existing key (absent: unchanged);
- `remove:SECTION:KEY`: present to remove the key;
- `new-key:SECTION`, `new-value:SECTION`: one key to add to a section;
- `new-section`, `new-section-key`, `new-section-value`: a section to add, with its first key.

The raw form has `text` instead.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flasker.config import Config
from flasker.editor import ConfigDocument, cfg_diff, version_of
from flasker.exceptions import ConfigError, ConfigProblem

from . import keydocs
from .exceptions import ConsoleError

SEP = ":"


class MissingBaseError(ConsoleError):
    """A form came without the text it was loaded from (an old page, or not from the console)."""

    status = 400

    def __init__(self) -> None:
        super().__init__(
            "the form does not say which version of the cfg file it was made from; "
            "reload the editor and make the change again"
        )


def dom_id(prefix: str, *parts: str) -> str:
    """A stable HTML id for a section/key (whose names may hold any character)."""
    digest = hashlib.sha1("\0".join(parts).encode(), usedforsecurity=False).hexdigest()[:12]
    return f"{prefix}-{digest}"


@dataclass
class Row:
    """One key of a section card: what was written, what the form now says, its docs."""

    section: str
    key: str
    written: str
    value: str
    removed: bool
    info: keydocs.KeyInfo
    problems: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return dom_id("key", self.section, self.key)

    @property
    def is_multiline(self) -> bool:
        return "\n" in self.value

    @property
    def is_changed(self) -> bool:
        return self.removed or self.value != self.written


@dataclass
class Card:
    """A section of the editor: its rows and the key being added to it."""

    name: str
    doc: str
    rows: list[Row]
    new_key: str = ""
    new_value: str = ""
    new_problems: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return dom_id("section", self.name)

    @property
    def new_id(self) -> str:
        return dom_id("new", self.name)


@dataclass
class Edit:
    """The outcome of applying a form: the edited text, its cards and every problem.

    `document` is None when the text cannot even be parsed (raw mode); such an edit is never
    saved, but its text and diff are still shown so the operator can fix it.
    """

    path: Path
    base_text: str
    text: str
    document: ConfigDocument | None
    cards: list[Card]
    problems: list[ConfigProblem]
    config: Config | None
    new_section: tuple[str, str, str] = ("", "", "")
    new_section_problems: list[str] = field(default_factory=list)

    @property
    def is_valid(self) -> bool:
        return not self.problems and self.document is not None

    @property
    def is_changed(self) -> bool:
        return self.text != self.base_text

    @property
    def base(self) -> str:
        """The `base` field that goes back into the form."""
        return encode_base(self.base_text)

    def diff(self) -> str:
        """Unified diff from the text the page was loaded from to the edited one."""
        return cfg_diff(self.path.name, self.base_text, self.text)


def open_edit(path: Path) -> Edit:
    """The editor as loaded from disk (no change yet). Raises ConfigError when unreadable."""
    document = ConfigDocument.open(path)
    return _finish(document, document, {}, set(), {}, ("", "", ""), [])


def edit_from_form(path: Path, form: Mapping[str, str]) -> Edit:
    """Apply a section form to the text it was made from, then validate the result."""
    base = _base_document(path, form)
    document = _base_document(path, form)
    values: dict[tuple[str, str], str] = {}
    removed: set[tuple[str, str]] = set()
    added: dict[str, tuple[str, str]] = {}
    problems: list[ConfigProblem] = []
    for section in base.sections():
        for key, written in base.items(section):
            name = f"{section}{SEP}{key}"
            if f"remove{SEP}{name}" in form:
                removed.add((section, key))
                document.remove(section, key)
                continue
            value = _normalize(form.get(f"value{SEP}{name}", written))
            values[(section, key)] = value
            if value != _normalize(written):
                _apply(document, section, key, value, problems)
        new_key = form.get(f"new-key{SEP}{section}", "").strip()
        new_value = _normalize(form.get(f"new-value{SEP}{section}", ""))
        if new_key or new_value:
            added[section] = (new_key, new_value)
            if not new_key:
                problems.append(_problem(base, section, None, "give the new key a name"))
            elif any(k == new_key for k, _ in base.items(section)):
                problems.append(
                    _problem(base, section, new_key, "key already in this section; change it above")
                )
            else:
                _apply(document, section, new_key, new_value, problems)
    new_section = (
        form.get("new-section", "").strip(),
        form.get("new-section-key", "").strip(),
        _normalize(form.get("new-section-value", "")),
    )
    if any(new_section):
        name, key, value = new_section
        if not name:
            problems.append(_problem(base, None, None, "give the new section a name"))
        elif name in base.sections():
            problems.append(_problem(base, name, None, "section already exists; add keys to it"))
        elif not key:
            problems.append(_problem(base, name, None, "give the new section its first key"))
        else:
            _apply(document, name, key, value, problems)
    return _finish(base, document, values, removed, added, new_section, problems)


def raw_edit_from_form(path: Path, form: Mapping[str, str]) -> Edit:
    """Replace the whole text (raw mode), then validate it like the section form.

    Works even when the file on disk cannot be parsed (that is what raw mode is for)."""
    base_text = _base_text(form)
    text = _normalize(form.get("text", base_text))
    if text and not text.endswith("\n"):
        text += "\n"
    problems: list[ConfigProblem] = []
    document: ConfigDocument | None
    try:
        document = ConfigDocument(path, text, version=version_of(base_text))
    except ConfigError as error:
        problems.extend(error.problems)
        document = None
    else:
        document.base_text = base_text  # so its diff and save start from what was loaded
    config = None
    if document is not None:
        config, problems = check(document)
    return Edit(path.absolute(), base_text, text, document, [], problems, config)


def open_raw(path: Path) -> Edit:
    """Raw mode as loaded from disk, parseable or not."""
    text = path.read_text(encoding="utf-8")
    return raw_edit_from_form(path, {"base": encode_base(text), "text": text})


def check(document: ConfigDocument) -> tuple[Config | None, list[ConfigProblem]]:
    """Validate exactly as the loader (and the CLI) would."""
    try:
        return document.validate(), []
    except ConfigError as error:
        return None, list(error.problems)


def problem_text(problem: ConfigProblem) -> str:
    """A problem next to its key: the key named, without the file's path."""
    where = f"line {problem.line}: " if problem.line else ""
    name = problem.key or (f"[{problem.section}]" if problem.section else "")
    return f"{where}{name}: {problem.problem}" if name else f"{where}{problem.problem}"


# -- helpers -------------------------------------------------------------------------------
def encode_base(text: str) -> str:
    """The `base` field: base64, so browsers hand the text back byte for byte (a form field's
    line ends would come back as CRLF)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _base_text(form: Mapping[str, str]) -> str:
    encoded = form.get("base")
    if encoded is None:
        raise MissingBaseError()
    try:
        return base64.b64decode(encoded.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        raise MissingBaseError() from None


def _base_document(path: Path, form: Mapping[str, str]) -> ConfigDocument:
    """The document as the page showed it (ConfigError when that text cannot be parsed)."""
    return ConfigDocument(path, _base_text(form))


def _normalize(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _apply(
    document: ConfigDocument, section: str, key: str, value: str, problems: list[ConfigProblem]
) -> None:
    try:
        document.set(section, key, value)
    except ConfigError as error:
        problems.extend(
            p._replace(section=p.section or section, key=p.key or key) for p in error.problems
        )


def _problem(
    document: ConfigDocument, section: str | None, key: str | None, text: str
) -> ConfigProblem:
    return ConfigProblem(str(document.path), None, section, key, text)


def _finish(
    base: ConfigDocument,
    document: ConfigDocument,
    values: Mapping[tuple[str, str], str],
    removed: set[tuple[str, str]],
    added: Mapping[str, tuple[str, str]],
    new_section: tuple[str, str, str],
    problems: list[ConfigProblem],
) -> Edit:
    config = None
    if not problems:
        config, problems = check(document)
    cards = []
    for section in base.sections():
        written_keys = {key for key, _ in base.items(section)}
        rows = [
            Row(
                section,
                key,
                written,
                values.get((section, key), written),
                (section, key) in removed,
                keydocs.describe(section, key),
            )
            for key, written in base.items(section)
        ]
        new_key, new_value = added.get(section, ("", ""))
        cards.append(
            Card(
                section,
                keydocs.section_doc(section),
                rows,
                new_key,
                new_value,
                suggestions=[k for k in keydocs.known_keys(section) if k not in written_keys],
            )
        )
    edit = Edit(
        document.path, base.base_text, document.text, document, cards, problems, config, new_section
    )
    _place_problems(edit)
    return edit


def _place_problems(edit: Edit) -> None:
    """Put each problem next to the key (or new-key field) it names."""
    cards = {card.name: card for card in edit.cards}
    for problem in edit.problems:
        text = problem_text(problem)
        card = cards.get(problem.section or "")
        if card is None:
            if problem.section and problem.section == edit.new_section[0]:
                edit.new_section_problems.append(text)
            continue
        if (
            problem.line is None
            and (card.new_key or card.new_value)
            and problem.key
            in (
                None,
                card.new_key,
            )
        ):  # found in the new-key fields themselves, before the text was validated
            card.new_problems.append(text)
            continue
        row = _find_row(card, problem.key)
        if row is not None:
            row.problems.append(text)
        elif (card.new_key or card.new_value) and (
            problem.key in (None, card.new_key) or _same(card.new_key, problem.key)
        ):
            card.new_problems.append(text)


def _find_row(card: Card, key: str | None) -> Row | None:
    if key is None:
        return None
    for row in card.rows:
        if row.key == key:
            return row
    for row in card.rows:  # [ENGINE] reports lower-cased names, [CACHE] drops CACHE_
        if _same(row.key, key):
            return row
    return None


def _same(written: str | None, reported: str | None) -> bool:
    if written is None or reported is None:
        return False
    return written.lower() == reported.lower() or written.removeprefix("CACHE_") == reported
