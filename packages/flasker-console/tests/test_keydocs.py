"""Types and documentation of keys, as the editor shows them."""

from __future__ import annotations

import pytest

from flasker_console import keydocs


@pytest.mark.parametrize(
    ("section", "key", "type_", "doc_part"),
    [
        ("PROJECT", "DB_URL", "str", "SQLAlchemy database URL"),
        ("PROJECT", "AUTOCOMMIT", "bool", "Commit db.session"),
        ("APP", "DEBUG", "bool", "Debug mode"),
        ("APP", "PERMANENT_SESSION_LIFETIME", "seconds", "permanent session"),
        ("APP", "JSON_SORT_KEYS", "any", "own setting"),
        ("CELERY", "broker_url", "str", "Celery setting"),
        ("CELERY", "BROKER_URL", "str", "Old name of Celery's broker_url"),
        ("ENGINE", "POOL_SIZE", "int", "Connections kept open"),
        ("CACHE", "CACHE_TYPE", "str", "Flask-Caching backend"),
        ("LOGGING", "LEVEL", "str", "One of: DEBUG"),
        ("CONSOLE", "URL_PREFIX", "str", "Where the console is mounted"),
    ],
)
def test_known_keys(section: str, key: str, type_: str, doc_part: str) -> None:
    info = keydocs.describe(section, key)
    assert info.type == type_
    assert doc_part in info.doc


def test_unknown_keys_and_sections() -> None:
    assert not keydocs.describe("PROJECT", "NAMES").is_known
    assert not keydocs.describe("CELERY", "no_such_setting").is_known
    assert keydocs.describe("NOPE", "X") == keydocs.KeyInfo("", "", False)


def test_suggestions_for_new_keys() -> None:
    assert "DEBUG" in keydocs.known_keys("APP")
    assert "broker_url" in keydocs.known_keys("CELERY")
    assert "URL_PREFIX" in keydocs.known_keys("CONSOLE")
