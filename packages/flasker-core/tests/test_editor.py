"""Round-trip editing of a cfg file: comments and order kept, invalid or stale writes refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flasker import ConfigError, load_config
from flasker.editor import ConfigDocument
from flasker.exceptions import StaleConfigError

ORIGINAL = """\
# Houses: a flasker project.
; edited by hand and by the console

[PROJECT]
NAME = houses
# the modules, in import order
MODULES = app.models,
    app.views
DB_URL: sqlite:///houses.sqlite

[APP]
DEBUG = true<spaces>
TESTING=false
SECRET_KEY = ${SECRET_KEY:-dev}

# the broker
[CELERY]
BROKER_URL = redis://127.0.0.1:6379/0
""".replace("<spaces>", "   ")  # a trailing space that must survive edits elsewhere


def write(tmp_path: Path, text: str = ORIGINAL) -> Path:
    path = tmp_path / "default.cfg"
    path.write_text(text, encoding="utf-8")
    return path


def test_unchanged_document_is_byte_identical(tmp_path: Path) -> None:
    document = ConfigDocument.open(write(tmp_path))
    assert document.text == ORIGINAL
    assert document.diff() == ""
    assert document.sections() == ["PROJECT", "APP", "CELERY"]
    assert document.items("APP") == [
        ("DEBUG", "true"),
        ("TESTING", "false"),
        ("SECRET_KEY", "${SECRET_KEY:-dev}"),
    ]
    assert document.items("NOPE") == []


def test_set_changes_only_that_line(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "NAME", "villas")
    document.save(environ={})
    assert path.read_text() == ORIGINAL.replace("NAME = houses", "NAME = villas")


def test_a_changed_line_keeps_its_separator_as_written(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "DB_URL", "sqlite:///other.sqlite")
    document.set("APP", "TESTING", "true")
    document.save(environ={})
    assert path.read_text() == ORIGINAL.replace(
        "DB_URL: sqlite:///houses.sqlite", "DB_URL: sqlite:///other.sqlite"
    ).replace("TESTING=false", "TESTING=true")


def test_remove_keeps_comments_and_order(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.remove("PROJECT", "DB_URL")
    document.remove("APP", "NOT_THERE")  # nothing to do
    document.remove("NO_SECTION", "X")
    document.save(environ={})
    assert path.read_text() == ORIGINAL.replace("DB_URL: sqlite:///houses.sqlite\n", "")


def test_new_key_goes_after_the_sections_last_key(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("APP", "PROPAGATE_EXCEPTIONS", "false")
    document.set("PROJECT", "AUTOCOMMIT", "no")
    document.save(environ={})
    assert path.read_text() == ORIGINAL.replace(
        "SECRET_KEY = ${SECRET_KEY:-dev}\n",
        "SECRET_KEY = ${SECRET_KEY:-dev}\nPROPAGATE_EXCEPTIONS = false\n",
    ).replace(
        "DB_URL: sqlite:///houses.sqlite\n", "DB_URL: sqlite:///houses.sqlite\nAUTOCOMMIT = no\n"
    )
    # the blank line and the comment that open the next section stay with it
    assert "PROPAGATE_EXCEPTIONS = false\n\n# the broker\n[CELERY]" in path.read_text()


def test_new_key_in_a_section_with_only_comments(tmp_path: Path) -> None:
    document = ConfigDocument(
        tmp_path / "default.cfg", "[PROJECT]\n# NAME = example\n\n[APP]\nDEBUG = true\n"
    )
    document.set("PROJECT", "NAME", "real")
    assert document.text == "[PROJECT]\n# NAME = example\nNAME = real\n\n[APP]\nDEBUG = true\n"


def test_new_section_is_separated_by_a_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("LOGGING", "LEVEL", "DEBUG")
    document.set("LOGGING", "FORMAT", "json")
    document.set("CACHE", "TYPE", "SimpleCache")
    document.save(environ={})
    assert path.read_text() == ORIGINAL + (
        "\n[LOGGING]\nLEVEL = DEBUG\nFORMAT = json\n\n[CACHE]\nTYPE = SimpleCache\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "[APP]\nX = 1\n"),
        ("[PROJECT]\nNAME = a", "[PROJECT]\nNAME = a\n\n[APP]\nX = 1\n"),
        ("[PROJECT]\nNAME = a\n", "[PROJECT]\nNAME = a\n\n[APP]\nX = 1\n"),
        ("[PROJECT]\nNAME = a\n\n\n", "[PROJECT]\nNAME = a\n\n\n[APP]\nX = 1\n"),
        ("# just a comment\n", "# just a comment\n\n[APP]\nX = 1\n"),
    ],
)
def test_new_section_spacing(tmp_path: Path, text: str, expected: str) -> None:
    document = ConfigDocument(tmp_path / "default.cfg", text)
    document.set("APP", "X", "1")
    assert document.text == expected


def test_multi_line_values_are_indented(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "MODULES", "app.models,\napp.views,\napp.tasks")
    document.set("APP", "ADMINS", '[\n"ann@example.org",\n"bob@example.org"\n]')
    document.save(environ={})
    text = path.read_text()
    assert "MODULES = app.models,\n    app.views,\n    app.tasks\nDB_URL" in text
    config = load_config(path, environ={})
    assert config.modules == ("app.models", "app.views", "app.tasks")
    assert config.app["ADMINS"] == ["ann@example.org", "bob@example.org"]


def test_multi_line_value_as_read_round_trips(tmp_path: Path) -> None:
    document = ConfigDocument(tmp_path / "default.cfg", "[PROJECT]\nMODULES =\n    a\n    b\n")
    ((key, value),) = document.items("PROJECT")
    document.set("PROJECT", key, value)
    assert document.text == "[PROJECT]\nMODULES =\n    a\n    b\n"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a,\n\nb", "blank line inside a value"),
        ("a,\n   \nb", "blank line inside a value"),
        ("a,\n# b", "a line of a value cannot start with # or ; (it reads as a comment): '# b'"),
        ("a,\n  ; b", "a line of a value cannot start with # or ;"),
    ],
)
def test_values_that_would_not_read_back_are_refused(
    tmp_path: Path, value: str, problem: str
) -> None:
    document = ConfigDocument(tmp_path / "default.cfg", "[PROJECT]\n")
    with pytest.raises(ConfigError) as error:
        document.set("PROJECT", "MODULES", value)
    assert str(error.value).startswith(f"{tmp_path / 'default.cfg'}: [PROJECT] MODULES: {problem}")
    assert document.text == "[PROJECT]\n"


@pytest.mark.parametrize(
    ("section", "key", "what", "name"),
    [
        ("AP]P", "X", "section", "AP]P"),
        ("", "X", "section", ""),
        ("APP", "A = B", "key", "A = B"),
        ("APP", "A:B", "key", "A:B"),
        ("APP", " X", "key", " X"),
        ("APP", "#X", "key", "#X"),
        ("APP", "X\nY", "key", "X\nY"),
    ],
)
def test_bad_names_are_refused(
    tmp_path: Path, section: str, key: str, what: str, name: str
) -> None:
    document = ConfigDocument(tmp_path / "default.cfg", "[APP]\n")
    with pytest.raises(ConfigError) as error:
        document.set(section, key, "1")
    assert str(error.value) == f"{tmp_path / 'default.cfg'}: invalid {what} name {name!r}"


def test_update_section_keeps_places_and_appends_new_keys(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.update_section(
        "PROJECT", {"DB_URL": "sqlite:///v.sqlite", "NAME": "villas", "AUTOCOMMIT": "off"}
    )
    document.save(environ={})
    assert path.read_text().startswith(
        "# Houses: a flasker project.\n; edited by hand and by the console\n\n"
        "[PROJECT]\nNAME = villas\n# the modules, in import order\n"
        "DB_URL: sqlite:///v.sqlite\nAUTOCOMMIT = off\n\n[APP]\n"
    )


def test_remove_section(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.remove_section("CELERY")
    document.remove_section("NOT_THERE")
    config = document.save(environ={})
    assert "[CELERY]" not in path.read_text()
    assert config.is_embedded_broker


def test_diff_shows_the_change(tmp_path: Path) -> None:
    document = ConfigDocument.open(write(tmp_path))
    document.set("APP", "DEBUG", "false")
    assert document.diff().splitlines()[:2] == [
        "--- default.cfg (on disk)",
        "+++ default.cfg (edited)",
    ]
    assert "-DEBUG = true   \n+DEBUG = false\n" in document.diff()


def test_invalid_change_is_refused_and_the_file_is_untouched(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = path.read_bytes()
    document = ConfigDocument.open(path)
    document.set("APP", "TESTING", "maybe")
    document.set("PROJECT", "MODUELS", "x")
    with pytest.raises(ConfigError) as error:
        document.save(environ={})
    assert [(p.section, p.key) for p in error.value.problems] == [
        ("PROJECT", "MODUELS"),
        ("APP", "TESTING"),
    ]
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["default.cfg"]


def test_validate_reports_lines_of_the_edited_text(tmp_path: Path) -> None:
    document = ConfigDocument.open(write(tmp_path))
    document.set("APP", "MAX_CONTENT_LENGTH", "lots")  # a new line 15
    document.set("PROJECT", "MODUELS", "app")  # a new line 10, pushing [APP] down
    with pytest.raises(ConfigError) as error:
        document.validate(environ={})
    cfg = tmp_path / "default.cfg"
    assert str(error.value) == (
        f"{cfg}:10: [PROJECT] MODUELS: unknown key; did you mean MODULES?\n"
        f"{cfg}:16: [APP] MAX_CONTENT_LENGTH: expected a whole number, got 'lots'"
    )


def test_missing_secret_is_refused_before_writing(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "DB_URL", "postgresql://u:${DB_PASSWORD}@db/x")
    with pytest.raises(ConfigError, match="environment variable DB_PASSWORD is not set"):
        document.save(environ={})
    document.save(environ={"DB_PASSWORD": "pw"})
    # the file keeps the reference, never the secret
    assert "${DB_PASSWORD}" in path.read_text()
    assert "pw@" not in path.read_text()


def test_stale_base_version_is_refused_with_the_current_text(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    someone_else = ORIGINAL.replace("NAME = houses", "NAME = theirs")
    path.write_text(someone_else)

    document.set("APP", "DEBUG", "false")
    with pytest.raises(StaleConfigError) as error:
        document.save(environ={})
    assert error.value.current_text == someone_else
    assert error.value.base_version == document.version
    assert error.value.path == str(path)
    assert str(error.value).startswith(f"{path}: the file changed on disk since it was read")
    assert str(error.value).endswith("reload it and apply the change again")
    assert path.read_text() == someone_else


def test_an_old_version_given_explicitly_is_refused(tmp_path: Path) -> None:
    """The console sends the version its form was rendered from along with the new text."""
    path = write(tmp_path)
    rendered = ConfigDocument.open(path).version
    first = ConfigDocument.open(path)
    first.set("PROJECT", "NAME", "first")
    first.save(environ={})

    second = ConfigDocument(path, path.read_text(), version=rendered)
    second.set("PROJECT", "NAME", "second")
    with pytest.raises(StaleConfigError) as error:
        second.save(environ={})
    assert "NAME = first" in error.value.current_text
    assert "NAME = first" in path.read_text()


def test_saves_in_a_row_from_one_document(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "NAME", "one")
    document.save(environ={})
    document.set("PROJECT", "NAME", "two")
    config = document.save(environ={})
    assert config.name == "two"
    assert document.diff() == ""
    assert load_config(path, environ={}).name == "two"


def test_replace_text(tmp_path: Path) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.replace_text("[PROJECT]\nNAME = raw-mode\n")
    document.save(environ={})
    assert path.read_text() == "[PROJECT]\nNAME = raw-mode\n"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("NAME = no header\n", ":1: expected a [SECTION] header"),
        ("[PROJECT]\nNAME = a\n!!!\n", ":3: cannot read"),
        ("[PROJECT]\nNAME = a\nNAME = b\n", ":3: [PROJECT] NAME: key appears twice"),
    ],
)
def test_replace_text_that_does_not_parse_is_refused(tmp_path: Path, text: str, where: str) -> None:
    path = write(tmp_path)
    before = path.read_bytes()
    document = ConfigDocument.open(path)
    with pytest.raises(ConfigError) as error:
        document.replace_text(text)
    assert str(error.value).startswith(f"{path}{where}")
    assert document.text == ORIGINAL  # the document is unchanged too
    assert path.read_bytes() == before


def test_replace_text_that_parses_but_is_invalid_is_refused_at_save(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = path.read_bytes()
    document = ConfigDocument.open(path)
    document.replace_text("[PROJECT]\nNAME = a\n[CELERY]\nBROKER_URL = x\nbroker_url = y\n")
    with pytest.raises(ConfigError, match="are the same setting"):
        document.save(environ={})
    assert path.read_bytes() == before


def test_crash_during_save_leaves_the_old_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    before = path.read_bytes()
    script = textwrap.dedent(
        """
        import os, signal, sys
        from flasker import _atomic
        from flasker.editor import ConfigDocument

        def crash(src, dst):
            os.kill(os.getpid(), signal.SIGKILL)

        _atomic.os.replace = crash
        document = ConfigDocument.open(sys.argv[1])
        document.set("PROJECT", "NAME", "half-written")
        document.save(environ={})
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert path.read_bytes() == before
    assert load_config(path, environ={}).name == "houses"
    # and the next save, from a fresh read, works
    document = ConfigDocument.open(path)
    document.set("PROJECT", "NAME", "whole")
    document.save(environ={})
    assert load_config(path, environ={}).name == "whole"


# -- round-trip properties -----------------------------------------------------------------------

SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s == s.strip() and not (len(s) >= 2 and s[0] == s[-1] and s[0] in "'\""))

ROUND_TRIP = settings(
    database=None,
    deadline=None,
    max_examples=75,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@ROUND_TRIP
@given(name=SAFE_TEXT)
def test_any_string_round_trips_through_editor_and_loader(tmp_path: Path, name: str) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "NAME", name.replace("$", "$$"))
    document.save(environ={})
    assert load_config(path, environ={}).name == name
    assert ConfigDocument.open(path).items("PROJECT")[0] == ("NAME", name.replace("$", "$$"))
    assert path.read_text().startswith("# Houses: a flasker project.\n")


@ROUND_TRIP
@given(number=st.integers(min_value=-(10**18), max_value=10**18))
def test_any_int_round_trips(tmp_path: Path, number: int) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("CACHE", "DEFAULT_TIMEOUT", str(number))
    document.set("APP", "PAGE_SIZE", str(number))
    config = document.save(environ={})
    assert config.get("CACHE", "DEFAULT_TIMEOUT") == number
    assert load_config(path, environ={}).app["PAGE_SIZE"] == number


@ROUND_TRIP
@given(
    modules=st.lists(
        st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.[a-z_][a-z0-9_]{0,8}){0,2}", fullmatch=True),
        min_size=1,
        max_size=6,
    )
)
def test_module_lists_round_trip_on_several_lines(tmp_path: Path, modules: list[str]) -> None:
    path = write(tmp_path)
    document = ConfigDocument.open(path)
    document.set("PROJECT", "MODULES", ",\n".join(modules))
    document.save(environ={})
    assert load_config(path, environ={}).modules == tuple(modules)
    assert "# the modules, in import order\n" in path.read_text()


def test_saving_a_file_deleted_since_it_was_opened_is_refused(tmp_path) -> None:
    cfg = tmp_path / "default.cfg"
    cfg.write_text("[PROJECT]\nNAME = gone\n")
    document = ConfigDocument.open(cfg)
    document.set("PROJECT", "NAME", "back")
    cfg.unlink()
    with pytest.raises(ConfigError, match="deleted since it was opened"):
        document.save()
    assert not cfg.exists()
