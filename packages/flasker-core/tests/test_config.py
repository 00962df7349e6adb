"""Loading a cfg file: sections, typed values, every error a user can make, env overrides."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from flasker import ConfigError, load_config, schema
from flasker.config import Config, parse_config


def write(folder: Path, text: str, name: str = "default.cfg") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, text: str, environ: dict[str, str] | None = None) -> Config:
    return load_config(write(folder, text), environ={} if environ is None else environ)


def problems_of(folder: Path, text: str, environ: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        load(folder, text, environ)
    return error.value


# -- a good file ---------------------------------------------------------------------------------

FULL = """
    # The houses project, flasker 0.1 style.
    ; semicolon comments work too

    [PROJECT]
    NAME = houses
    MODULES = app.models, app.views,
      app.tasks
    DB_URL: postgresql+psycopg://app:${DB_PASSWORD}@db:5432/houses
    AUTOCOMMIT = no

    [APP]
    # any Flask option, and the app's own
    DEBUG = off
    TESTING: yes
    SECRET_KEY = ${SECRET_KEY}
    PERMANENT_SESSION_LIFETIME = 3600
    MAX_CONTENT_LENGTH = 16_000_000
    ITEMS_PER_PAGE = 25
    RATIO = 0.75
    FEATURES = {"search": true, "beta": ["a", "b"]}
    ADMINS = ["ann@example.org"]
    WELCOME = "Hello, ${USER:-stranger}!"
    PRICE = $$5

    [CELERY]
    BROKER_URL = redis://127.0.0.1:6379/0
    CELERY_RESULT_BACKEND = redis://127.0.0.1:6379/1
    CELERYD_CONCURRENCY = 4
    task_always_eager = true
    accept_content = json, msgpack
    beat_schedule = {"census": {"task": "app.tasks.census", "schedule": 60}}

    [ENGINE]
    POOL_SIZE = 10
    echo = true

    [CACHE]
    CACHE_TYPE = SimpleCache
    DEFAULT_TIMEOUT = 60

    [LOGGING]
    LEVEL = DEBUG
    FORMAT = json
    LEVELS = {"sqlalchemy.engine": "INFO"}
"""

SECRETS = {"DB_PASSWORD": "pw", "SECRET_KEY": "k3y"}


def test_full_file_is_typed(tmp_path: Path) -> None:
    config = load(tmp_path, FULL, SECRETS)

    assert config.path == tmp_path / "default.cfg"
    assert config.folder == tmp_path
    assert config.name == "houses"
    assert config.modules == ("app.models", "app.views", "app.tasks")
    assert config.db_url == "postgresql+psycopg://app:pw@db:5432/houses"
    assert config.autocommit is False

    assert dict(config.app) == {
        "DEBUG": False,
        "TESTING": True,
        "SECRET_KEY": "k3y",
        "PERMANENT_SESSION_LIFETIME": 3600,
        "MAX_CONTENT_LENGTH": 16_000_000,
        "ITEMS_PER_PAGE": 25,
        "RATIO": 0.75,
        "FEATURES": {"search": True, "beta": ["a", "b"]},
        "ADMINS": ["ann@example.org"],
        "WELCOME": "Hello, stranger!",
        "PRICE": "$5",
    }
    assert dict(config.celery) == {
        "broker_url": "redis://127.0.0.1:6379/0",
        "result_backend": "redis://127.0.0.1:6379/1",
        "worker_concurrency": 4,
        "task_always_eager": True,
        "accept_content": ["json", "msgpack"],
        "beat_schedule": {"census": {"task": "app.tasks.census", "schedule": 60}},
    }
    assert config.is_embedded_broker is False
    assert dict(config.engine) == {"pool_size": 10, "echo": True}
    assert config.get("CACHE", "TYPE") == "SimpleCache"
    assert config.get("CACHE", "DEFAULT_TIMEOUT") == 60
    assert dict(config.section("LOGGING")) == {
        "LEVEL": "DEBUG",
        "FORMAT": "json",
        "LEVELS": {"sqlalchemy.engine": "INFO"},
    }


def test_lines_point_at_where_each_key_was_written(tmp_path: Path) -> None:
    config = load(tmp_path, FULL, SECRETS)
    assert config.line_of("PROJECT", "NAME") == 5
    assert config.line_of("PROJECT", "MODULES") == 6
    assert config.line_of("PROJECT", "DB_URL") == 8
    assert config.line_of("APP", "DEBUG") == 13
    # renamed keys keep the line of the spelling the file used
    assert config.line_of("CELERY", "broker_url") == 26
    assert config.line_of("CELERY", "worker_concurrency") == 28
    assert config.line_of("ENGINE", "pool_size") == 34
    assert config.line_of("CACHE", "TYPE") == 38
    error = config.error("CELERY", "broker_url", "cannot connect")
    assert str(error) == f"{tmp_path / 'default.cfg'}:26: [CELERY] broker_url: cannot connect"


def test_secrets_never_need_to_be_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL)
    config = load_config(path, environ={"DB_PASSWORD": "from-env", "SECRET_KEY": "env-key"})
    assert config.app["SECRET_KEY"] == "env-key"
    assert "from-env" in config.db_url
    assert "from-env" not in path.read_text()


def test_config_is_immutable(tmp_path: Path) -> None:
    config = load(tmp_path, FULL, SECRETS)
    with pytest.raises(TypeError):
        config.app["DEBUG"] = True  # type: ignore[index]
    with pytest.raises(TypeError):
        config.sections["NEW"] = {}  # type: ignore[index]
    with pytest.raises(AttributeError):
        config.path = tmp_path  # type: ignore[misc]


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    project = tmp_path / "my_site"
    project.mkdir()
    config = load(project, "")
    assert config.name == "my_site"
    assert config.modules == ()
    assert config.db_url == f"sqlite:///{project / 'db.sqlite'}"
    assert config.autocommit is True
    assert config.is_embedded_broker is True
    assert config.get("PROJECT", "STATIC_FOLDER") == "static"
    assert dict(config.app) == {}


def test_both_separators_and_comment_styles(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
        # hash comment
        ; semicolon comment
        [PROJECT]
        NAME: colon
        # DB_URL = sqlite:///commented-out.sqlite
        ; MODULES = commented, out
        DB_URL=sqlite:///no-spaces.sqlite
        [APP]
        URL = http://example.org:8080/a=b
        """,
    )
    assert config.name == "colon"
    assert config.db_url == "sqlite:///no-spaces.sqlite"
    assert config.modules == ()
    # only the first separator splits: the rest belongs to the value
    assert config.app["URL"] == "http://example.org:8080/a=b"


def test_keys_keep_their_case(tmp_path: Path) -> None:
    config = load(tmp_path, "[APP]\nMyKey = 1\nmykey = 2\n")
    assert dict(config.app) == {"MyKey": 1, "mykey": 2}


# -- Flask keys ----------------------------------------------------------------------------------


def test_unknown_flask_keys_are_allowed(tmp_path: Path) -> None:
    config = load(tmp_path, "[APP]\nMY_APP_SETTING = whatever\nSENTRY_DSN = https://x@y/1\n")
    assert dict(config.app) == {"MY_APP_SETTING": "whatever", "SENTRY_DSN": "https://x@y/1"}


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("DEBUG = no", "DEBUG", False),
        ("DEBUG = on", "DEBUG", True),
        ("TESTING = 0", "TESTING", False),
        ("PROPAGATE_EXCEPTIONS = yes", "PROPAGATE_EXCEPTIONS", True),
        ("SECRET_KEY = 12345", "SECRET_KEY", "12345"),
        ("SESSION_COOKIE_NAME = 42", "SESSION_COOKIE_NAME", "42"),
        ("SESSION_COOKIE_SAMESITE = Lax", "SESSION_COOKIE_SAMESITE", "Lax"),
        ("MAX_CONTENT_LENGTH = none", "MAX_CONTENT_LENGTH", None),
        ("MAX_FORM_PARTS = 50", "MAX_FORM_PARTS", 50),
        ("SEND_FILE_MAX_AGE_DEFAULT = 600", "SEND_FILE_MAX_AGE_DEFAULT", 600),
        (
            "TRUSTED_HOSTS = example.org, .example.org",
            "TRUSTED_HOSTS",
            ["example.org", ".example.org"],
        ),
    ],
)
def test_flask_keys_get_flasks_types(tmp_path: Path, line: str, key: str, expected: object) -> None:
    value = load(tmp_path, f"[APP]\n{line}\n").app[key]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("TESTING = maybe", "expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'"),
        (
            "DEBUG = sometimes",
            "expected a boolean (true/false, yes/no, on/off, 1/0), got 'sometimes'",
        ),
        (
            "PERMANENT_SESSION_LIFETIME = a month",
            "expected a whole number (seconds), got 'a month'",
        ),
        ("MAX_CONTENT_LENGTH = 16MB", "expected a whole number, got '16MB'"),
        ("MAX_COOKIE_SIZE = big", "expected a whole number, got 'big'"),
    ],
)
def test_wrong_type_for_a_flask_key(tmp_path: Path, line: str, problem: str) -> None:
    error = problems_of(tmp_path, f"[PROJECT]\nNAME = x\n\n[APP]\n{line}\n")
    key = line.split(" = ")[0]
    assert str(error) == f"{tmp_path / 'default.cfg'}:5: [APP] {key}: {problem}"
    assert (error.line, error.section, error.key) == (5, "APP", key)


# -- errors --------------------------------------------------------------------------------------


def test_unknown_project_key_suggests_the_closest(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nNAME = x\nMODUELS = app\ndb_url = sqlite://\n")
    cfg = tmp_path / "default.cfg"
    assert str(error) == (
        f"{cfg}:3: [PROJECT] MODUELS: unknown key; did you mean MODULES?\n"
        f"{cfg}:4: [PROJECT] db_url: unknown key; did you mean DB_URL?"
    )


def test_unknown_project_key_without_a_close_one_lists_the_known(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nFLAVOUR = vanilla\n")
    assert "[PROJECT] FLAVOUR: unknown key in [PROJECT] (known keys: " in str(error)
    assert "AUTOCOMMIT, CREATE_TABLES, DB_URL, MODULES, NAME" in str(error)


def test_wrong_type_in_project(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nAUTOCOMMIT = sometimes\n")
    assert str(error).endswith(
        ":2: [PROJECT] AUTOCOMMIT: "
        + ("expected a boolean (true/false, yes/no, on/off, 1/0), got 'sometimes'")
    )


def test_logging_level_must_be_a_level(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[LOGGING]\nLEVEL = LOUD\n")
    assert str(error).endswith(
        ":2: [LOGGING] LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'"
    )


def test_lower_case_section_suggests_the_upper_case_one(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[project]\nNAME = x\n")
    assert (
        str(error)
        == f"{tmp_path / 'default.cfg'}:1: [project]: unknown section; did you mean [PROJECT]?"
    )


def test_misspelt_section(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nNAME = x\n[CELRY]\nbroker_url = redis://\n")
    assert str(error).endswith(":3: [CELRY]: unknown section; did you mean [CELERY]?")


def test_unrelated_section_lists_the_known_ones(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[WHATEVER]\nA = 1\n")
    assert (
        "[WHATEVER]: unknown section (known: PROJECT, APP, CELERY, ENGINE, CACHE, LOGGING"
        in str(error)
    )


def test_extension_section_without_its_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as if flasker-console were not installed: no module, no declared section
    monkeypatch.setitem(sys.modules, "flasker_console", None)
    monkeypatch.setattr(schema, "_entry_point_sections", lambda: {})
    error = problems_of(tmp_path, "[PROJECT]\nNAME = x\n\n[CONSOLE]\nURL_PREFIX = /c\n")
    assert str(error) == (
        f"{tmp_path / 'default.cfg'}:4: [CONSOLE]: section [CONSOLE] belongs to "
        "flasker-console, which is not installed (pip install flasker-console)"
    )


def test_duplicate_key(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nNAME = a\nDB_URL = sqlite://\nNAME = b\n")
    assert (
        str(error)
        == f"{tmp_path / 'default.cfg'}:4: [PROJECT] NAME: key appears twice in this section"
    )


def test_duplicate_section(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[APP]\nA = 1\n[PROJECT]\nNAME = a\n[APP]\nB = 2\n")
    assert str(error) == f"{tmp_path / 'default.cfg'}:5: [APP]: section appears twice; merge them"


def test_no_section_header(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "# settings\nNAME = houses\n[PROJECT]\n")
    assert str(error) == (
        f"{tmp_path / 'default.cfg'}:2: expected a [SECTION] header before 'NAME = houses'"
    )
    assert (error.line, error.section, error.key) == (2, None, None)


def test_garbage_lines_are_all_reported(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nNAME = x\nthis is not a setting\n[APP]\n}}}\n")
    cfg = tmp_path / "default.cfg"
    assert [(p.path, p.line) for p in error.problems] == [(str(cfg), 3), (str(cfg), 5)]
    assert str(error.problems[0]).startswith(f"{cfg}:3: cannot read 'this is not a setting")
    assert "expected 'KEY = value', a [SECTION] header or a comment" in str(error)


def test_bad_json_names_file_line_and_key(tmp_path: Path) -> None:
    error = problems_of(tmp_path, '[PROJECT]\nNAME = x\n[LOGGING]\nLEVELS = {"app": DEBUG}\n')
    assert str(error).startswith(f"{tmp_path / 'default.cfg'}:4: [LOGGING] LEVELS: invalid JSON: ")


def test_bad_json_in_an_app_key(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[APP]\nFEATURES = {search: true}\n")
    assert str(error).startswith(f"{tmp_path / 'default.cfg'}:2: [APP] FEATURES: invalid JSON: ")


def test_unset_variable_names_file_line_and_key(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nDB_URL = postgresql://u:${DB_PASSWORD}@db/x\n")
    assert str(error) == (
        f"{tmp_path / 'default.cfg'}:2: [PROJECT] DB_URL: environment variable DB_PASSWORD "
        "is not set (set it, or write ${DB_PASSWORD:-default})"
    )


def test_every_problem_is_reported_sorted_by_line(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path,
        """
        [PROJECT]
        NAME = x
        MODUELS = app

        [CELERY]
        BROKER_URL = redis://
        broker_url = redis://other
        CELERYD_CONCURENCY = 4

        [APP]
        TESTING = maybe
        SECRET_KEY = ${MISSING}

        [project]
        NAME = y
        """,
    )
    assert [(p.line, p.section, p.key) for p in error.problems] == [
        (3, "PROJECT", "MODUELS"),
        (7, "CELERY", "broker_url"),
        (8, "CELERY", "CELERYD_CONCURENCY"),
        (11, "APP", "TESTING"),
        (12, "APP", "SECRET_KEY"),
        (14, "project", None),
    ]
    assert len(str(error).splitlines()) == 6
    assert all(line.startswith(f"{tmp_path / 'default.cfg'}:") for line in str(error).splitlines())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "nope.cfg")
    assert str(error.value) == f"{tmp_path / 'nope.cfg'}: no such file"


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder, not a cfg file"):
        load_config(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "default.cfg"
    path.write_bytes(b"[PROJECT]\nNAME = caf\xe9\n")
    with pytest.raises(ConfigError, match=r"default.cfg: is not UTF-8 text"):
        load_config(path)


# -- environment overrides -----------------------------------------------------------------------


def test_env_overrides_a_key_with_the_same_typing(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[PROJECT]\nNAME = file\n[APP]\nDEBUG = true\n",
        {"FLASKER__APP__DEBUG": "off", "FLASKER__PROJECT__NAME": "env", "UNRELATED": "1"},
    )
    assert config.app["DEBUG"] is False
    assert config.name == "env"
    assert config.line_of("APP", "DEBUG") is None  # not from the file


def test_env_adds_keys_and_sections(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[PROJECT]\nNAME = x\n",
        {"FLASKER__CELERY__broker_url": "redis://env", "FLASKER__APP__PAGE_SIZE": "10"},
    )
    assert config.celery["broker_url"] == "redis://env"
    assert config.app["PAGE_SIZE"] == 10


def test_env_override_values_are_interpolated(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "",
        {"FLASKER__PROJECT__DB_URL": "postgresql://u:${PW}@db/x", "PW": "secret"},
    )
    assert config.db_url == "postgresql://u:secret@db/x"


@pytest.mark.parametrize(
    ("text", "variable", "section", "key", "expected"),
    [
        (
            "[CELERY]\nBROKER_URL = redis://file\n",
            "FLASKER__CELERY__broker_url",
            "CELERY",
            "broker_url",
            "redis://env",
        ),
        (
            "[CELERY]\nbroker_url = redis://file\n",
            "FLASKER__CELERY__BROKER_URL",
            "CELERY",
            "broker_url",
            "redis://env",
        ),
        (
            "[ENGINE]\nsslmode = disable\n",
            "FLASKER__ENGINE__SSLMODE",
            "ENGINE",
            "sslmode",
            "redis://env",
        ),
        (
            "[CACHE]\nTYPE = NullCache\n",
            "FLASKER__CACHE__CACHE_TYPE",
            "CACHE",
            "TYPE",
            "redis://env",
        ),
    ],
)
def test_env_override_replaces_any_spelling_of_the_setting(
    tmp_path: Path, text: str, variable: str, section: str, key: str, expected: str
) -> None:
    config = load(tmp_path, text, {variable: "redis://env"})
    assert config.get(section, key) == expected


def test_env_override_in_upper_case_names_celery_5s_setting(tmp_path: Path) -> None:
    # environment variables are upper case by habit; Celery 5 has no upper-case result_backend
    config = load(
        tmp_path,
        "[CELERY]\nresult_backend = redis://file\n",
        {"FLASKER__CELERY__RESULT_BACKEND": "redis://env", "FLASKER__CELERY__TASK_ACKS_LATE": "no"},
    )
    assert config.celery["result_backend"] == "redis://env"
    assert config.celery["task_acks_late"] is False


def test_bad_env_override_names_the_variable(tmp_path: Path) -> None:
    error = problems_of(
        tmp_path,
        "[APP]\nTESTING = true\n",
        {"FLASKER__APP__TESTING": "maybe", "FLASKER__PROJECT__NAMEE": "x"},
    )
    assert str(error) == (
        "$FLASKER__APP__TESTING: [APP] TESTING: "
        "expected a boolean (true/false, yes/no, on/off, 1/0), got 'maybe'\n"
        "$FLASKER__PROJECT__NAMEE: [PROJECT] NAMEE: unknown key; did you mean NAME?"
    )


def test_env_override_of_an_unknown_section_names_the_variable(tmp_path: Path) -> None:
    error = problems_of(tmp_path, "[PROJECT]\nNAME = x\n", {"FLASKER__PROJCT__NAME": "y"})
    assert (
        str(error) == "$FLASKER__PROJCT__NAME: [PROJCT]: unknown section; did you mean [PROJECT]?"
    )


@pytest.mark.parametrize(
    "variable", ["FLASKER__", "FLASKER__APP", "FLASKER__APP__", "FLASKER____X"]
)
def test_incomplete_env_names_are_ignored(tmp_path: Path, variable: str) -> None:
    config = load(tmp_path, "[APP]\nX = 1\n", {variable: "2"})
    assert dict(config.app) == {"X": 1}


def test_load_config_reads_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASKER__APP__FROM_ENV", "yes-it-is")
    monkeypatch.setenv("FLASKER_TEST_SECRET", "s")
    path = write(tmp_path, "[APP]\nSECRET_KEY = ${FLASKER_TEST_SECRET}\n")
    config = load_config(path)
    assert config.app["FROM_ENV"] == "yes-it-is"
    assert config.app["SECRET_KEY"] == "s"


def test_parse_config_checks_unsaved_text_as_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config("[APP]\nTESTING = maybe\n", tmp_path / "site.cfg", environ={})
    assert str(error.value).startswith(f"{tmp_path / 'site.cfg'}:2: [APP] TESTING:")
    config = parse_config("[PROJECT]\nNAME = n\n", tmp_path / "site.cfg", environ={})
    assert config.version == parse_config("[PROJECT]\nNAME = n\n", "x.cfg", environ={}).version
    assert config.version != parse_config("[PROJECT]\nNAME = m\n", "x.cfg", environ={}).version


def test_common_engine_arguments_are_typed_at_their_line(tmp_path) -> None:
    cfg = tmp_path / "default.cfg"
    cfg.write_text(
        "[PROJECT]\nNAME = x\n[ENGINE]\npool_size = many\nECHO = yes\nsslmode = require\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(cfg)
    assert str(raised.value) == f"{cfg}:4: [ENGINE] pool_size: expected a whole number, got 'many'"
    cfg.write_text("[PROJECT]\nNAME = x\n[ENGINE]\npool_size = 5\nECHO = yes\nsslmode = require\n")
    assert dict(load_config(cfg).engine) == {"pool_size": 5, "echo": True, "sslmode": "require"}


# -- found by hypothesis (test_config_fuzz.py, issue 10) ------------------------------------------
@pytest.mark.parametrize(
    ("text", "environ"),
    [
        ("[APP]\nPAGE_SIZE = " + "9" * 5000 + "\n", {}),
        ("[CELERY]\nworker_concurrency = -" + "9" * 5000 + "\n", {}),
        ("[CACHE]\nDEFAULT_TIMEOUT = " + "9" * 5000 + "\n", {}),
        ("[PROJECT]\nNAME = n\n", {"FLASKER__APP__PAGE_SIZE": "9" * 5000}),
    ],
)
def test_a_number_too_long_for_python_is_a_config_error(
    tmp_path: Path, text: str, environ: dict[str, str]
) -> None:
    """Python refuses to read an int of more than 4300 digits with a ValueError, which went
    through the loader instead of becoming a ConfigError."""
    error = problems_of(tmp_path, text, environ)
    assert "at most 4300 digits, got one of 5000 digits" in str(error)


def test_a_long_number_python_can_read_is_still_a_number(tmp_path: Path) -> None:
    assert load(tmp_path, "[APP]\nBIG = " + "9" * 4300 + "\n").app["BIG"] == int("9" * 4300)
