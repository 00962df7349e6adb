"""hypothesis over the cfg parser and writer: any text is a config or a `ConfigError`, and the
editor writes what the loader reads back.

The text comes two ways: arbitrary unicode (NUL, CR, lone surrogates' neighbours, anything), and
cfg-like lines built from the pieces a user writes — section headers (known, unknown, broken),
`KEY = value` and `KEY: value` lines for the sections' real keys and invented ones, comments,
continuation lines, blank lines, `${VAR}`, `${VAR:-default}`, `$$` and broken references, with
`\\r`, `\\x00` and non-ASCII characters mixed in. The properties:

- `parse_config`, `load_config` (bytes on disk, any encoding) and `ConfigDocument` answer a
  config or a `ConfigError`, never another exception;
- a document that parses is written back byte for byte when nothing was edited;
- values and sections the editor writes are read back by the loader as the same typed values,
  and what the editor refuses, it refuses with a `ConfigError`.

Examples per test: `FUZZ_EXAMPLES` (default 100: about 15 s for the file); the proof run uses
`FLASKER_FUZZ_CASES` (e.g. 5000) as with the API's schemathesis run. Generation is derandomized
so a CI run is repeatable; a failure prints the text that broke it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from flasker import ConfigError, load_config
from flasker.config import parse_config
from flasker.editor import ConfigDocument

#: Examples per test when FLASKER_FUZZ_CASES is not set.
FUZZ_EXAMPLES = 100

FUZZ = settings(
    max_examples=int(os.environ.get("FLASKER_FUZZ_CASES") or FUZZ_EXAMPLES),
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

PATH = Path("/nonexistent/fuzz/default.cfg")

# -- strategies -------------------------------------------------------------------------------
#: Characters that matter to the parser, mixed into any text.
SPECIAL = st.sampled_from(
    ["\x00", "\r", "\r\n", "\n", "\t", " ", "=", ":", "[", "]", "#", ";", "$", "{", "}",
     "${", "$$", "\\", '"', "'", ",", "é", "ß", "中", "\u2028", "\x85", "\ufeff", "\x0c"]
)  # fmt: skip
TEXTISH = st.lists(st.one_of(st.text(max_size=6), SPECIAL), max_size=8).map("".join)

SECTIONS = ["PROJECT", "APP", "CELERY", "ENGINE", "CACHE", "LOGGING", "AUTH", "API", "CONSOLE"]
KEYS = {
    "PROJECT": ["NAME", "MODULES", "DB_URL", "APP_FOLDER", "AUTOCOMMIT", "CREATE_TABLES"],
    "APP": ["DEBUG", "SECRET_KEY", "TESTING", "PERMANENT_SESSION_LIFETIME", "PAGE_SIZE", "X"],
    "CELERY": ["broker_url", "BROKER_URL", "task_acks_late", "beat_schedule", "worker_x"],
    "ENGINE": ["echo", "pool_size", "connect_args", "isolation_level", "POOL_SIZE"],
    "CACHE": ["TYPE", "DEFAULT_TIMEOUT", "CACHE_TYPE", "OPTIONS", "THRESHOLD"],
    "LOGGING": ["LEVEL", "FORMAT", "LEVELS"],
    "AUTH": ["PROVIDER", "SCOPES", "DEV_LOGIN", "TOKEN_DEFAULT_EXPIRY", "ADMINS"],
    "API": ["URL_PREFIX", "MAX_DEPTH", "METHODS", "COUNT", "READ_ONLY"],
    "CONSOLE": ["URL_PREFIX", "CHECK_TIMEOUT", "EVENTS"],
}
VARIABLES = ["HOME_DIR", "SECRET", "EMPTY", "UNSET", "X1"]
ENVIRON = st.fixed_dictionaries(
    {},
    optional={
        "HOME_DIR": TEXTISH,
        "SECRET": TEXTISH,
        "EMPTY": st.just(""),
        "X1": st.sampled_from(["1", "true", "[1, 2]", '{"a": 1}', "none"]),
        "FLASKER__APP__FROM_ENV": TEXTISH,
        "FLASKER__PROJECT__NAME": TEXTISH,
        "FLASKER__ENGINE__POOL_SIZE": st.sampled_from(["5", "many", ""]),
        "FLASKER__NOPE__KEY": TEXTISH,
        "FLASKER__CELERY__BROKER_URL": st.just("redis://127.0.0.1:1/0"),
    },
)

REFERENCE = st.one_of(
    st.sampled_from(VARIABLES).map(lambda v: f"${{{v}}}"),
    st.tuples(st.sampled_from(VARIABLES), TEXTISH).map(lambda t: f"${{{t[0]}:-{t[1]}}}"),
    st.sampled_from(["$$", "${", "${}", "${1X}", "$", "${A:-", "${A-b}", "$${X}"]),
)
VALUE = st.one_of(
    st.sampled_from(
        ["true", "no", "0", "1", "-3", "1_000", "2.5", "1e3", "nan", "inf", "none", "null", "",
         '"quoted"', "'q'", "[1, 2]", '{"a": [1]}', "{broken", "[", "a, b,", "INFO", "DEBUG",
         "redis://127.0.0.1:6379/0", "sqlite:///x.db", "exact", "GET, POST", "0 3 * * *"]
    ),
    REFERENCE,
    TEXTISH,
    st.lists(st.one_of(TEXTISH, REFERENCE), min_size=2, max_size=4).map("".join),
    # longer than Python reads (4300 digits) or than any int or float type holds
    st.tuples(st.sampled_from(["", "-", "+"]), st.integers(4000, 5000)).map(
        lambda t: t[0] + "9" * t[1]
    ),
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["1e400", "-1e400", "1" * 400 + ".5", "[" * 300 + "]" * 300]),
)  # fmt: skip


@st.composite
def key_line(draw: st.DrawFn, section: str) -> str:
    key = draw(st.one_of(st.sampled_from(KEYS.get(section, ["KEY"])), TEXTISH))
    separator = draw(st.sampled_from([" = ", "=", ": ", ":", " =", " : "]))
    line = f"{key}{separator}{draw(VALUE)}"
    for _ in range(draw(st.integers(0, 2))):  # continuation lines
        line += "\n" + draw(st.sampled_from(["  ", "\t", "    "])) + draw(VALUE)
    return line


@st.composite
def cfg_text(draw: st.DrawFn) -> str:
    """A cfg-like document: sections of key lines, comments and blank lines, some noise."""
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# a comment", "; another", "", "stray text"])))
    for _ in range(draw(st.integers(0, 4))):
        name = draw(
            st.one_of(
                st.sampled_from(SECTIONS),
                st.sampled_from(["project", "DEFAULT", "NOPE", "API ", ""]),
                TEXTISH,
            )
        )
        header = draw(
            st.sampled_from(["[{}]", "[{}]", "[{}] # note", "  [{}]", "[{}", "[[{}]]"])
        ).format(name)
        lines.append(header)
        for _ in range(draw(st.integers(0, 5))):
            lines.append(
                draw(
                    st.one_of(
                        key_line(name),
                        key_line(name),
                        st.sampled_from(["", "# c", "; c", "  # indented", "=", ":", " x"]),
                        TEXTISH,
                    )
                )
            )
    newline = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    end = draw(st.sampled_from(["", newline, newline * 2]))
    return newline.join(lines) + end


ANY_TEXT = st.one_of(st.text(), cfg_text())


def _outcome(text: str, environ: dict[str, str]) -> object:
    """The Config `text` loads to, or the ConfigError it is refused with (any other exception
    fails the test)."""
    try:
        return parse_config(text, PATH, environ)
    except ConfigError as error:
        return error


def _as_written(value: str) -> str:
    """The raw text the editor writes for `value`: trailing space dropped, each line stripped
    (continuation lines are indented in the file)."""
    return "\n".join(line.strip() for line in value.rstrip().split("\n"))


# -- any text: a config or a ConfigError --------------------------------------------------------
@FUZZ
@given(text=ANY_TEXT, environ=ENVIRON)
@example(text="[PROJECT]\nNAME = \x00\n", environ={})
@example(text="[APP]\r\nX = 1\r\n", environ={})
@example(text="[APP]\rX = 1\r", environ={})
@example(text="\ufeff[APP]\nX = 1\n", environ={})
@example(text="[APP]\nX = ${SECRET:-a}${\n", environ={"SECRET": ""})
def test_any_text_is_a_config_or_a_config_error(text: str, environ: dict[str, str]) -> None:
    _outcome(text, environ)


@FUZZ
@given(data=st.one_of(st.binary(max_size=200), cfg_text().map(lambda t: t.encode("utf-16"))))
def test_any_file_is_a_config_or_a_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "default.cfg"
    path.write_bytes(data)
    try:
        load_config(path, environ={})
    except ConfigError as error:
        message = str(error)
    else:
        return
    assert message.startswith(str(path))


@FUZZ
@given(text=ANY_TEXT)
def test_an_unedited_document_is_written_back_byte_identical(text: str) -> None:
    try:
        document = ConfigDocument(PATH, text)
    except ConfigError:
        return
    assert document.text == text
    assert not document.diff()


@FUZZ
@given(text=ANY_TEXT, environ=ENVIRON)
def test_the_document_and_the_loader_agree(text: str, environ: dict[str, str]) -> None:
    """What the editor validates is what the loader would load: the same values or the same
    problems."""
    try:
        document = ConfigDocument(PATH, text)
    except ConfigError:
        with pytest.raises(ConfigError):
            parse_config(text, PATH, environ)
        return
    try:
        validated: object = document.validate(environ)
    except ConfigError as error:
        validated = str(error)
    loaded = _outcome(text, environ)
    if isinstance(loaded, ConfigError):
        assert validated == str(loaded)
    else:
        assert validated == loaded


# -- the writer: what the editor writes, the loader reads back ---------------------------------
BASE = """\
# a project
[PROJECT]
NAME = fuzz
; the modules
MODULES = app.models,
    app.views

[APP]
DEBUG = false
"""

#: Values the editor writes, with the typed value the loader must read.
TYPED = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(lambda n: (str(n), n)),
    st.booleans().map(lambda b: (str(b).lower(), b)),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: (repr(f), f)),
    st.lists(st.integers(-5, 5) | st.text(max_size=5), max_size=4).map(
        lambda items: (json.dumps(items, ensure_ascii=False), items)
    ),
    st.dictionaries(st.text(max_size=5), st.integers() | st.booleans(), max_size=3).map(
        lambda d: (json.dumps(d, ensure_ascii=False), d)
    ),
)
#: Text values, stored as strings: anything a line can hold ($ doubled, as the editor's
#: callers do).
TEXT_VALUE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    max_size=40,
)
KEY_NAME = st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True).filter(
    lambda k: k not in {"DEBUG", "TESTING", "SECRET_KEY"} and not k.startswith(("SESSION_", "MAX_"))
)


@FUZZ
@given(values=st.dictionaries(KEY_NAME, TYPED, min_size=1, max_size=6))
def test_typed_values_written_by_the_editor_are_read_back(
    values: dict[str, tuple[str, object]],
) -> None:
    document = ConfigDocument(PATH, BASE)
    for key, (raw, _) in values.items():
        document.set("APP", key, raw)
    config = parse_config(document.text, PATH, {})
    for key, (_, typed) in values.items():
        read = config.app[key]
        if isinstance(typed, float) and typed.is_integer() and "e" not in repr(typed):
            assert read == typed
        else:
            assert read == typed, (key, document.text)
    reread = ConfigDocument(PATH, document.text)
    assert reread.text == document.text
    assert reread.items("APP")[1:] == [(k, raw) for k, (raw, _) in values.items()]
    assert document.text.startswith("# a project\n[PROJECT]\nNAME = fuzz\n; the modules\n")


@FUZZ
@given(
    values=st.dictionaries(KEY_NAME, TEXT_VALUE, min_size=1, max_size=5),
    section=st.sampled_from(["APP", "CELERY"]),
)
def test_text_written_by_the_editor_is_read_back_or_refused(
    values: dict[str, str], section: str
) -> None:
    """Any one-line text: written and read back as the same string (quotes and surrounding
    spaces aside), or refused with a ConfigError, never a broken file."""
    document = ConfigDocument(PATH, BASE)
    written: dict[str, str] = {}
    for key, value in values.items():
        raw = value.replace("$", "$$")
        try:
            document.set(section, key, raw)
        except ConfigError:
            continue
        written[key] = value
    assume(written)
    try:
        config = parse_config(document.text, PATH, {})
    except ConfigError:  # typed by guess(): `[x` is broken JSON, refused as the loader would
        return
    for key, value in written.items():
        read = config.section(section)[_final_key(section, key)]
        expected = value.strip()
        if isinstance(read, str):
            assert read == expected or read == expected[1:-1], (key, value, document.text)
        else:  # guessed as a number, a boolean, None or JSON
            assert read is None or not isinstance(read, str)


def _final_key(section: str, key: str) -> str:
    if section == "CELERY":
        from flasker._celery_keys import new_name

        return new_name(key) or key
    return key


@FUZZ
@given(
    section=st.sampled_from(SECTIONS).filter(lambda s: s not in ("PROJECT", "APP")),
    choice=st.data(),
)
def test_a_section_added_by_the_editor_is_read_back(section: str, choice: st.DataObject) -> None:
    document = ConfigDocument(PATH, BASE)
    key = choice.draw(st.sampled_from(KEYS[section]))
    raw = choice.draw(VALUE)
    try:
        document.set(section, key, raw)
    except ConfigError:
        return
    assert section in document.sections()
    assert ConfigDocument(PATH, document.text).items(section) == [(key, _as_written(raw))]
    _outcome(document.text, {})


@FUZZ
@given(text=cfg_text(), section=TEXTISH, key=TEXTISH, value=TEXTISH)
def test_any_edit_is_done_or_refused_with_a_config_error(
    text: str, section: str, key: str, value: str
) -> None:
    try:
        document = ConfigDocument(PATH, text)
    except ConfigError:
        return
    try:
        document.set(section, key, value)
    except ConfigError:
        assert document.text == text  # a refused edit changes nothing
        return
    again = ConfigDocument(PATH, document.text)  # what it wrote parses
    assert again.text == document.text
    found = dict(again.items(section))
    assert key in found
    assert found[key] == _as_written(value), document.text
    _outcome(document.text, {})
