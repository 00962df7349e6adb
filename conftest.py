"""Fixtures shared by every test suite of the workspace: the real services.

PostgreSQL and Redis are used for real. Locally a missing service skips the tests that need it;
under `CI=true` it fails them, so a broken machine can never pass CI by skipping.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest

pytest_plugins = ("pytester",)

POSTGRES_ADMIN_URL = os.environ.get(
    "FLASKER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FLASKER_TEST_REDIS", "redis://127.0.0.1:6379")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(what: str, error: BaseException) -> None:
    """Skip locally, fail under CI=true."""
    message = f"{what} is not answering ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true needs every service", pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def fresh_postgres_database(prefix: str = "flasker") -> Iterator[str]:
    """URL of a new, empty PostgreSQL database, dropped afterwards."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Callable[..., contextlib.AbstractContextManager[str]]:
    """`with postgres_database() as url:` a fresh database, for fixtures of any scope."""
    return fresh_postgres_database


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped after the test."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def redis_url(worker_id: str) -> Iterator[str]:
    """URL of a Redis database of its own for this xdist worker, emptied before and after."""
    import redis

    number = 1 + (int(worker_id[2:]) if worker_id.startswith("gw") else 0) % 15
    url = f"{REDIS_URL}/{number}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        service_missing("Redis at 127.0.0.1:6379", error)
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
