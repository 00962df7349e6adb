"""Celery setting names: both spellings work, mapped by Celery's own old→new table."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from celery.app import defaults as celery_defaults

from flasker import ConfigError, load_config
from flasker._celery_keys import _tables, convert_celery_value, known_celery_names, new_name

CELERY_OLD_TO_NEW = celery_defaults._TO_NEW_KEY
CELERY_OPTIONS = dict(celery_defaults.flatten(celery_defaults.NAMESPACES))


def load_celery(tmp_path: Path, body: str) -> dict[str, object]:
    path = tmp_path / "default.cfg"
    path.write_text("[CELERY]\n" + textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return dict(load_config(path, environ={}).celery)


def celery_error(tmp_path: Path, body: str) -> ConfigError:
    with pytest.raises(ConfigError) as error:
        load_celery(tmp_path, body)
    return error.value


@pytest.mark.parametrize("old", ["BROKER_URL", "CELERY_RESULT_BACKEND", "CELERYD_CONCURRENCY"])
def test_the_issues_old_names_map_as_celery_maps_them(old: str) -> None:
    assert new_name(old) == CELERY_OLD_TO_NEW[old]


def test_expected_new_names() -> None:
    # what a user reads in Celery 5's documentation
    assert new_name("BROKER_URL") == "broker_url"
    assert new_name("CELERY_RESULT_BACKEND") == "result_backend"
    assert new_name("CELERYD_CONCURRENCY") == "worker_concurrency"


def test_every_old_name_celery_knows_is_mapped() -> None:
    for old, new in CELERY_OLD_TO_NEW.items():
        assert new_name(old) == new, old


def test_the_table_read_through_celerys_public_api_is_celerys_own() -> None:
    # built from `flatten(NAMESPACES)` and each Option's `old` patterns, as Celery builds its
    # private `_TO_NEW_KEY`: the two must agree for the installed Celery
    assert _tables()[1] == dict(CELERY_OLD_TO_NEW)


def test_every_new_name_is_its_own_name() -> None:
    for name in CELERY_OPTIONS:
        assert new_name(name) == name


def test_unknown_names() -> None:
    assert new_name("CELERYD_CONCURENCY") is None
    assert new_name("broker") is None
    assert set(known_celery_names()) == set(CELERY_OPTIONS) | set(CELERY_OLD_TO_NEW)


def test_old_and_new_spellings_load_alike(tmp_path: Path) -> None:
    old = load_celery(
        tmp_path,
        """
        BROKER_URL = redis://127.0.0.1:6379/0
        CELERY_RESULT_BACKEND = redis://127.0.0.1:6379/1
        CELERYD_CONCURRENCY = 4
        CELERY_ALWAYS_EAGER = yes
        CELERY_ACCEPT_CONTENT = json, msgpack
        """,
    )
    new = load_celery(
        tmp_path,
        """
        broker_url = redis://127.0.0.1:6379/0
        result_backend = redis://127.0.0.1:6379/1
        worker_concurrency = 4
        task_always_eager = yes
        accept_content = ["json", "msgpack"]
        """,
    )
    assert (
        old
        == new
        == {
            "broker_url": "redis://127.0.0.1:6379/0",
            "result_backend": "redis://127.0.0.1:6379/1",
            "worker_concurrency": 4,
            "task_always_eager": True,
            "accept_content": ["json", "msgpack"],
        }
    )


@pytest.mark.parametrize(
    ("first", "second", "setting"),
    [
        ("BROKER_URL", "broker_url", "broker_url"),
        ("result_backend", "CELERY_RESULT_BACKEND", "result_backend"),
        ("CELERYD_CONCURRENCY", "worker_concurrency", "worker_concurrency"),
    ],
)
def test_both_spellings_of_one_setting_is_an_error(
    tmp_path: Path, first: str, second: str, setting: str
) -> None:
    error = celery_error(tmp_path, f"{first} = 1\ntask_always_eager = true\n{second} = 2\n")
    assert str(error) == (
        f"{tmp_path / 'default.cfg'}:4: [CELERY] {second}: "
        f"{second} and {first} on line 2 are the same setting ({setting}); keep one"
    )


def test_misspelt_old_name_suggests_both_spellings(tmp_path: Path) -> None:
    error = celery_error(tmp_path, "CELERYD_CONCURENCY = 4\n")
    assert str(error) == (
        f"{tmp_path / 'default.cfg'}:2: [CELERY] CELERYD_CONCURENCY: "
        "unknown Celery setting; did you mean CELERYD_CONCURRENCY (Celery 5: worker_concurrency)?"
    )


def test_misspelt_new_name_suggests_the_new_name(tmp_path: Path) -> None:
    error = celery_error(tmp_path, "worker_concurency = 4\n")
    assert str(error).endswith(
        "[CELERY] worker_concurency: unknown Celery setting; did you mean worker_concurrency?"
    )


def test_nothing_close_points_at_celerys_reference(tmp_path: Path) -> None:
    error = celery_error(tmp_path, "zzz = 1\n")
    assert str(error).endswith(
        "[CELERY] zzz: unknown Celery setting (see Celery's configuration reference)"
    )


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("worker_prefetch_multiplier = many", "expected a whole number, got 'many'"),
        ("task_always_eager = perhaps", "expected a boolean"),
        ("beat_schedule = [1]", "expected a JSON object, got '[1]'"),
        ("beat_schedule = {oops}", "invalid JSON"),
        ("broker_pool_limit = lots", "expected a whole number"),
        ("result_expires = soon", "expected a number"),
    ],
)
def test_values_are_typed_by_celerys_declared_type(tmp_path: Path, line: str, problem: str) -> None:
    error = celery_error(tmp_path, line + "\n")
    assert f":2: [CELERY] {line.split(' = ')[0]}: {problem}" in str(error)


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("broker_url", "redis://h:6379/0", "redis://h:6379/0"),
        ("broker_url", "none", None),
        ("task_default_queue", "'quoted'", "quoted"),
        ("accept_content", "json, yaml", ["json", "yaml"]),
        ("accept_content", '["json"]', ["json"]),
        ("task_acks_late", "on", True),
        ("worker_concurrency", "8", 8),
        ("worker_concurrency", "auto", "auto"),
        ("broker_connection_timeout", "2.5", 2.5),
        ("task_routes", '{"app.tasks.*": {"queue": "slow"}}', {"app.tasks.*": {"queue": "slow"}}),
    ],
)
def test_convert_celery_value(name: str, raw: str, expected: object) -> None:
    # worker_concurrency is typed "any" by Celery itself (it also takes "auto")
    assert convert_celery_value(name, raw) == expected
