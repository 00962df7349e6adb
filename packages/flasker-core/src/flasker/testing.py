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

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ._net import free_port

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


# -- several projects in one process ------------------------------------------------------------
def close_project(project: Project) -> None:
    """Release a project's database pool and Celery connections, and deactivate it."""
    if "celery" in project.__dict__:
        project.celery.close()
        backend = project.celery.__dict__.get("backend")
        if backend is not None and hasattr(backend, "ResultSession"):  # db+sqlite results
            with contextlib.suppress(Exception):
                backend.ResultSession().get_bind().dispose()
    project.close()


@contextlib.contextmanager
def restored_process_state() -> Iterator[None]:
    """Undo what starting projects changes in this process, for suites that start many.

    Python imports a module once and a project's MODULES register routes, tasks and models on
    it, so a second project of the same modules would find them taken. Inside this block, every
    project started is closed afterwards and the process forgets it: its modules (those under
    folders it added to `sys.path`), `sys.path`, models mapped on flasker's `Model` and their
    tables, Celery's shared tasks and default app, and root-logger handlers.
    """
    import logging
    import sys

    from celery import _state as celery_state

    from . import globals as flasker_globals
    from .model import Model

    modules = set(sys.modules)
    path = list(sys.path)
    tables = set(Model.metadata.tables)
    mappers = set(Model.registry.mappers)
    active = list(flasker_globals._active)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # @shared_task registers a finalizer that adds the task to every later Celery app
    finalizers = set(celery_state._on_app_finalizers)
    default_app = celery_state.default_app
    try:
        yield
    finally:
        celery_state._on_app_finalizers.intersection_update(finalizers)
        celery_state.set_default_app(default_app)
        celery_state._tls.current_app = None
        for project in [p for p in flasker_globals._active if p not in active]:
            close_project(project)
        flasker_globals._active[:] = active
        added = [folder for folder in sys.path if folder not in path and folder]
        for name in set(sys.modules) - modules:
            # only project modules: a library imported lazily meanwhile must stay
            file = getattr(sys.modules[name], "__file__", None) or ""
            if any(file.startswith(folder + os.sep) for folder in added):
                del sys.modules[name]
        sys.path[:] = path
        _forget_models(mappers, tables)
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def _forget_models(keep_mappers: set[Any], keep_tables: set[str]) -> None:
    """Unmap the models and drop the tables defined since the snapshot."""
    from .model import Model

    new = [m for m in Model.registry.mappers if m not in keep_mappers]
    if new:
        if not keep_mappers:
            Model.registry.dispose()
        else:  # a suite mapped models at import time: unmap only the new ones
            for mapper in new:
                Model.registry._dispose_manager_and_mapper(mapper.class_manager)
    for name in set(Model.metadata.tables) - keep_tables:
        Model.metadata.remove(Model.metadata.tables[name])


# -- end-to-end: a real `flasker server` -----------------------------------------------------------
class ServerFailed(Exception):
    """The server exited or did not answer; the message carries its log."""


class LiveServer:
    """`flasker server` for a cfg in a subprocess on a free port, for end-to-end tests::

        with LiveServer("myproject/default.cfg") as server:
            page.goto(server.url + "/")

    Output goes to `log` (beside the cfg by default). `stop()` sends SIGTERM, as a terminal
    would, so the server stops its embedded worker itself.
    """

    def __init__(
        self,
        cfg: str | os.PathLike[str],
        *args: str,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cfg = Path(cfg)
        self.args = args
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or self.cfg.parent / "server.log"
        self.process: Any = None

    def start(self, timeout: float = 40.0) -> LiveServer:
        command = [sys.executable, "-m", "flasker", "-c", str(self.cfg), "server"]
        command += ["--port", str(self.port), *self.args]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"flasker server exited early:\n{self.output()}")
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise ServerFailed(f"flasker server did not answer within {timeout:g} s:\n{self.output()}")

    def _answers(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            urllib.request.urlopen(self.url + "/", timeout=1).close()
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is up
        except (urllib.error.URLError, OSError):
            return False
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def embedded_worker_pid(self) -> int | None:
        """The pid of the worker the server started, from its start-up line."""
        for line in self.output().splitlines():
            if "embedded worker started (pid" in line:
                return int(line.split("(pid ")[1].rstrip(")"))
        return None

    def stop(self, grace: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- subprocesses: a real `flasker worker` and the like --------------------------------------------
@contextlib.contextmanager
def background(
    command: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    new_session: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in the background for the block, output (both streams) to the file `log`.

    Afterwards a process still running is stopped with SIGTERM, as a terminal would (a worker
    then finishes warm), and killed when it has not exited 15 s later: a test that fails must
    not leave a worker consuming from a broker other tests share.

    The environment is this process's with `PYTHONUNBUFFERED=1` (so `log` is current while the
    test waits on it) and `env` on top, without `FLASKER_CONFIG`: a cfg the developer exported
    must not replace the one the command names.

    `new_session=True` starts the command in a session (and process group) of its own, so a
    fault test can `os.killpg(process.pid, signal.SIGKILL)` it with every child it forked.
    """
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    environment.pop("FLASKER_CONFIG", None)
    with Path(log).open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
            start_new_session=new_session,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


def worker_process(
    cfg: str | os.PathLike[str],
    log: Path,
    *args: str,
    pool: str = "solo",
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """`flasker -c CFG worker --pool solo --loglevel INFO ARGS...` under `background()`::

        with worker_process(cfg, tmp_path / "worker.log", "-n", "one@test") as process:
            wait_for(lambda: result.ready(), 60, what="the task's result", log=log)

    The solo pool runs tasks in the worker's own process (one process to start and stop);
    `pool="prefork"` with `"--concurrency", "1"` gives a pool that can grow and shrink.
    """
    command = [sys.executable, "-m", "flasker", "-c", str(cfg), "worker"]
    command += ["--pool", pool, "--loglevel", "INFO", *args]
    return background(command, log, env=env, new_session=new_session)


def log_tail(log: Path, lines: int = 40) -> str:
    """The last `lines` lines of a subprocess's log, for a failure message."""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 20.0,
    *,
    what: str = "",
    log: Path | None = None,
    interval: float = 0.1,
    on_timeout: Callable[[str], Any] | None = None,
) -> Any:
    """Poll `condition` until it returns something truthy, and return that; after `timeout`
    seconds the test fails, naming `what` it waited for and showing the tail of `log` (the
    subprocess that should have made it true). A script outside pytest passes `on_timeout`,
    called with that message (it should raise), to fail its own way."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = f"; its log:\n{log_tail(log)}" if log is not None else ""
            message = f"timed out after {timeout:g} s waiting for {what or condition}{shown}"
            if on_timeout is not None:
                on_timeout(message)
            pytest.fail(message)
        time.sleep(interval)


# -- a Redis server a fault test may crash ------------------------------------------------------
class RedisServer:
    """`redis-server` on `port` (a free one by default), its data in `folder`, for tests that
    kill and restart it (never the shared Redis other tests use)::

        server = RedisServer(tmp_path)
        server.start()
        server.kill()     # SIGKILL, as a crash would
        server.start()    # same port, same data
        server.stop()

    `persistent=True` (the default) keeps an append-only file fsynced on every write, so a
    SIGKILL loses nothing Redis acknowledged and queued messages survive a restart; False
    keeps nothing on disk, as the shared servers here are started.
    """

    def __init__(self, folder: Path, port: int | None = None, persistent: bool = True) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.persistent = persistent
        self.url = f"redis://127.0.0.1:{self.port}"
        self.log = self.folder / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.persistent:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            command += ["--appendonly", "no"]
        command += ["--dir", str(self.folder), "--logfile", str(self.log)]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for(self.answers, timeout, what=f"redis-server on port {self.port}", log=self.log)
        return self

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for benchmarks that measure its CPU)."""
        return self.process.pid if self.process is not None else None

    def answers(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no chance to write anything more."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# -- what a request costs ----------------------------------------------------------------------
class WorkCounter:
    """The work a project does inside the block: SQL statements on its engine (SQLAlchemy's
    `before_cursor_execute`) and broker calls of its Celery app (`control.broadcast`, which
    every `inspect` and remote-control command goes through, and `connection_for_write`,
    which broker checks and publishing open). Counted from every thread, since pages run
    their checks and broadcasts in threads::

        client.get("/page")  # warm-up: lazy tables, compiled templates
        with WorkCounter(project) as work:
            client.get("/page")
        assert work.queries <= 3, work.statements

    For asserting that a page's cost stays flat as the data grows, and for benchmarks.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.statements: list[str] = []
        self.broadcasts = 0
        self.connections = 0
        self._lock = threading.Lock()

    @property
    def queries(self) -> int:
        return len(self.statements)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self.statements.append(statement)

    def _counted(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                setattr(self, name, getattr(self, name) + 1)
            return function(*args, **kwargs)

        return call

    def __enter__(self) -> WorkCounter:
        from sqlalchemy import event

        celery = self.project.celery
        event.listen(self.project.db.engine, "before_cursor_execute", self._on_statement)
        # instance attributes shadow the methods until __exit__ deletes them
        celery.control.broadcast = self._counted("broadcasts", celery.control.broadcast)
        celery.connection_for_write = self._counted("connections", celery.connection_for_write)
        return self

    def __exit__(self, *exc_info: object) -> None:
        from sqlalchemy import event

        celery = self.project.celery
        event.remove(self.project.db.engine, "before_cursor_execute", self._on_statement)
        del celery.control.broadcast
        del celery.connection_for_write
