"""pytest plugin for Flasker projects (loaded automatically once flasker-core is installed).

Fixtures, all lazy (a test suite that uses none of them pays nothing):

- `flasker_project`: the project of the suite's cfg, started once per test session, with
  `DB_URL` pointed at a throw-away SQLite file (so tests never touch the development
  database; `--flasker-keep-db` keeps the cfg's own) and Celery in eager mode (`.delay()`
  runs the task inline and re-raises its errors; `--flasker-real-broker` keeps the broker).
- `flasker_app`, `flasker_client`: the Flask app and a test client for it.
- `flasker_cli`: runs `flasker` commands against the same cfg, returning click's `Result`.

Helpers: `restored_process_state()` for suites that start several projects in one process,
`LiveServer` for end-to-end tests against a real `flasker server`, `background()` and
`worker_process()` for other subprocesses (a real `flasker worker`), `wait_for()` and `log_tail()`
to wait on them, `WorkCounter` for the SQL statements and broker calls a request costs, and
`RedisServer` for fault tests that crash and restart a Redis of their own.

The cfg is `--flasker-config PATH`, else the `flasker_config` ini option, else the CLI's own
discovery (`$FLASKER_CONFIG`, `default.cfg` here, `[tool.flasker]` in pyproject.toml).

One project per test session: `[PROJECT] MODULES` are imported once per process, and the
routes and tasks they declare through `current_project` belong to the project that was active
at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._net import free_port
from ._testing_processes import (
    LiveServer,
    ServerFailed,
    background,
    log_tail,
    wait_for,
    worker_process,
)
from ._testing_redis import RedisServer
from ._testing_state import close_project, restored_process_state
from ._testing_work import WorkCounter

__all__ = [
    "LiveServer",
    "RedisServer",
    "ServerFailed",
    "WorkCounter",
    "background",
    "close_project",
    "flasker_app",
    "flasker_cli",
    "flasker_client",
    "flasker_project",
    "free_port",
    "log_tail",
    "pytest_addoption",
    "restored_process_state",
    "wait_for",
    "worker_process",
]

if TYPE_CHECKING:
    from click.testing import Result
    from flask import Flask
    from flask.testing import FlaskClient

    from .project import Project


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flasker")
    group.addoption("--flasker-config", metavar="PATH", help="cfg file of the project under test.")
    group.addoption(
        "--flasker-keep-db",
        action="store_true",
        help="Use the cfg's DB_URL instead of a throw-away SQLite database.",
    )
    group.addoption(
        "--flasker-real-broker",
        action="store_true",
        help="Send tasks to the cfg's broker instead of running them eagerly.",
    )
    parser.addini("flasker_config", "cfg file of the project under test (relative to rootdir).")


def _config_path(config: pytest.Config) -> Path:
    from .discovery import find_config
    from .exceptions import FlaskerError

    explicit = config.getoption("flasker_config") or config.getini("flasker_config") or None
    if explicit and not Path(explicit).is_absolute():
        explicit = str(Path(config.rootpath) / explicit)
    try:
        return find_config(explicit)
    except FlaskerError as error:
        pytest.fail(f"flasker fixtures: {error}", pytrace=False)


@pytest.fixture(scope="session")
def flasker_project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Project]:
    from .config import load_config
    from .exceptions import FlaskerError
    from .project import Project

    options = request.config
    environ = dict(os.environ)
    if not options.getoption("flasker_keep_db"):
        database = tmp_path_factory.mktemp("flasker") / "test.sqlite"
        environ["FLASKER__PROJECT__DB_URL"] = f"sqlite:///{database}"
    try:
        project = Project(load_config(_config_path(options), environ))
        if not options.getoption("flasker_real_broker"):
            project.celery.conf.update(task_always_eager=True, task_eager_propagates=True)
        project.start()
    except FlaskerError as error:
        pytest.fail(f"flasker fixtures: {error}", pytrace=False)
    yield project
    project.close()


@pytest.fixture
def flasker_app(flasker_project: Project) -> Flask:
    return flasker_project.app


@pytest.fixture
def flasker_client(flasker_app: Flask) -> FlaskClient:
    return flasker_app.test_client()


@pytest.fixture
def flasker_cli(flasker_project: Project) -> Callable[..., Result]:
    """`flasker_cli("routes", "--json")` runs a command against the project's cfg."""
    from click.testing import CliRunner

    from .cli import cli

    def invoke(*args: str, **kwargs: Any) -> Result:
        return CliRunner().invoke(
            cli, ["-c", str(flasker_project.config.path), *args], catch_exceptions=False, **kwargs
        )

    return invoke
