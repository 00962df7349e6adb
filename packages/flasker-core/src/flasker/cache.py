"""Caching from `[CACHE]`, through Flask-Caching: in-process by default, Redis in production.

@current_project.cache.memoize(timeout=60)
def expensive(house_id): ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask_caching import Cache

if TYPE_CHECKING:
    from .config import Config


def cache_settings(config: Config) -> dict[str, Any]:
    """Flask-Caching settings (CACHE_*) from the `[CACHE]` section."""
    section = dict(config.section("CACHE")) or {"TYPE": "SimpleCache", "DEFAULT_TIMEOUT": 300}
    if section.get("DIR"):
        section["DIR"] = str(config.folder / section["DIR"])
    if section.get("TYPE") == "RedisCache" and not section.get("REDIS_URL"):
        raise config.error(
            "CACHE", "TYPE", "RedisCache needs REDIS_URL (e.g. redis://127.0.0.1:6379/1)"
        )
    if section.get("TYPE") == "FileSystemCache" and not section.get("DIR"):
        raise config.error("CACHE", "TYPE", "FileSystemCache needs DIR (a folder for the files)")
    return {f"CACHE_{key}": value for key, value in section.items() if value is not None}


def make_cache(config: Config) -> Cache:
    return Cache(config=cache_settings(config))
