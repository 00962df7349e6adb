"""`project.cache` from [CACHE]: in-process by default, Redis when configured."""

from __future__ import annotations

import pytest

from flasker import ConfigError


def _memoized_counter(project):
    calls = []

    @project.cache.memoize(timeout=60)
    def square(n: int) -> int:
        calls.append(n)
        return n * n

    return square, calls


def test_default_cache_is_in_process(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = cache\n", start=False)
    square, calls = _memoized_counter(project)
    with project.app.app_context():
        assert [square(3), square(3), square(4)] == [9, 9, 16]
    assert calls == [3, 4]
    with project.app.app_context():
        assert type(project.cache.cache).__name__ == "SimpleCache"


def test_cache_section_settings(make_project) -> None:
    project = make_project(
        "[PROJECT]\nNAME = c\n[CACHE]\nCACHE_TYPE = SimpleCache\nDEFAULT_TIMEOUT = 5\n"
        "KEY_PREFIX = houses_\nTHRESHOLD = 10\n",
        start=False,
    )
    cache = project.cache
    with project.app.app_context():
        backend = cache.cache
        assert backend.default_timeout == 5
        assert backend._threshold == 10
        cache.set("k", "v")
        assert cache.get("k") == "v"


def test_filesystem_cache_dir_is_relative_to_the_cfg(make_project, tmp_path) -> None:
    project = make_project(
        "[PROJECT]\nNAME = c\n[CACHE]\nTYPE = FileSystemCache\nDIR = cache-files\n", start=False
    )
    with project.app.app_context():
        project.cache.set("k", [1, 2])
        assert project.cache.get("k") == [1, 2]
    assert any((tmp_path / "cache-files").iterdir())


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("TYPE = RedisCache", "RedisCache needs REDIS_URL"),
        ("TYPE = FileSystemCache", "FileSystemCache needs DIR"),
    ],
)
def test_incomplete_cache_section_is_a_config_error(make_project, section, problem) -> None:
    project = make_project(f"[PROJECT]\nNAME = c\n[CACHE]\n{section}\n", start=False)
    with pytest.raises(ConfigError, match=rf"default.cfg:4: \[CACHE\] TYPE: {problem}"):
        _ = project.cache


@pytest.mark.redis
def test_redis_cache_is_shared_between_projects(make_project, redis_url, tmp_path) -> None:
    cfg = (
        f"[PROJECT]\nNAME = c\n[CACHE]\nTYPE = RedisCache\nREDIS_URL = {redis_url}\n"
        "KEY_PREFIX = houses_\n"
    )
    first = make_project(cfg, start=False, folder=tmp_path / "one")
    second = make_project(cfg, start=False, folder=tmp_path / "two")
    square, calls = _memoized_counter(first)
    with first.app.app_context():
        assert square(5) == 25
        first.cache.set("shared", {"houses": 3})
    with second.app.app_context():
        # another process (here: another project) sees the same entries
        assert second.cache.get("shared") == {"houses": 3}
    with first.app.app_context():
        assert square(5) == 25
    assert calls == [5]
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        assert b"houses_shared" in client.keys("houses_*")
    finally:
        client.close()
