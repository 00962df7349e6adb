"""Fixtures shared by every test suite of the workspace: the real services.

PostgreSQL and Redis are used for real. Locally a missing service skips the tests that need it;
under `CI=true` it fails them, so a broken machine can never pass CI by skipping.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

pytest_plugins = ("pytester",)

POSTGRES_ADMIN_URL = os.environ.get(
    "FLASKER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("FLASKER_TEST_REDIS", "redis://127.0.0.1:6379")
RABBITMQ_URL = os.environ.get("FLASKER_TEST_RABBITMQ", "amqp://guest:guest@127.0.0.1:5672//")
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


#: Redis databases the tests may use (0 is left to a developer's own work).
REDIS_DATABASES = range(1, 16)


@pytest.fixture(scope="session")
def redis_database(worker_id: str) -> Iterator[int]:
    """A Redis database number no other pytest process on this machine holds: each process
    (xdist worker, or a run without xdist) claims one with an exclusive lock on a file in the
    system's temporary folder, held until the process ends. Two runs at once (CI and a
    developer's run) would otherwise flush each other's queued tasks."""
    import fcntl
    import tempfile

    numbers = list(REDIS_DATABASES)
    first = int(worker_id[2:]) % len(numbers) if worker_id.startswith("gw") else 0
    for number in numbers[first:] + numbers[:first]:
        handle = open(Path(tempfile.gettempdir()) / f"flasker-test-redis-{number}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield number
        finally:
            handle.close()
        return
    pytest.fail(f"every Redis test database ({numbers[0]}..{numbers[-1]}) is held by another run")


@pytest.fixture
def redis_url(redis_database: int) -> Iterator[str]:
    """URL of a Redis database of this process's own (`redis_database`), emptied before and
    after the test."""
    import redis

    url = f"{REDIS_URL}/{redis_database}"
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


@pytest.fixture
def rabbitmq_url() -> str:
    """URL of the RabbitMQ server (guest on the default vhost); tests keep to queues of their
    own names and delete them."""
    from kombu import Connection

    with Connection(RABBITMQ_URL, connect_timeout=2) as connection:
        try:
            connection.ensure_connection(max_retries=1)
        except Exception as error:  # kombu wraps socket errors in its own OperationalError
            service_missing("RabbitMQ at 127.0.0.1:5672", error)
    return RABBITMQ_URL


#: flasker-auth's test OpenID Connect provider (authlib's server components on a loopback port).
OIDC_PROVIDER = Path(__file__).parent / "packages" / "flasker-auth" / "tests" / "oidc_provider.py"


def load_by_path(name: str, path: Path) -> ModuleType:
    """The module in file `path` (a test helper or a bench/ script: not in a package),
    imported once per process as `name`."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _load_oidc_provider() -> ModuleType:
    return load_by_path("flasker_auth_tests_oidc_provider", OIDC_PROVIDER)


@pytest.fixture(scope="session")
def bench_script() -> Callable[[str], ModuleType]:
    """`bench_script("multihost")`: bench/multihost.py as a module, for a test that runs what
    a benchmark script runs."""
    folder = Path(__file__).parent / "bench"
    return lambda name: load_by_path(f"flasker_bench_{name}", folder / f"{name}.py")


@pytest.fixture(scope="session")
def missing_service() -> Callable[[str, BaseException], None]:
    """`missing_service(what, error)`: skip locally, fail under CI=true."""
    return service_missing


# Loaded while collecting, before any test: suites that forget the modules a test imported
# (the console's, to re-map flasker-auth's models) must never forget what this one imports.
_OIDC_PROVIDER_MODULE = _load_oidc_provider()


@pytest.fixture(scope="session")
def oidc_provider_module() -> ModuleType:
    """The real OIDC provider's module that sign-in tests run locally (never a mocked client):
    `running_provider()` yields a started one, `OidcProvider().start()` makes one more.

    Loaded once, by path (flasker-auth's tests are not a package), for every suite."""
    return _OIDC_PROVIDER_MODULE
