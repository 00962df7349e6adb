"""Running a project: `flasker server` (development server or gunicorn) and `flasker worker`.

In embedded mode (no broker_url) the server also starts one Celery worker in a child process, so
a newcomer's tasks run with nothing else installed. The child is tied to the server's life: it
is stopped when the server exits, and it stops itself if the server dies without cleaning up.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from .exceptions import ProjectError
from .manager import ServeInfo

if TYPE_CHECKING:
    from .project import Project

logger = logging.getLogger(__name__)

#: Set in the embedded worker's environment: the pid of the server it belongs to.
PARENT_PID_VARIABLE = "FLASKER_PARENT_PID"
#: How often a worker on the embedded broker removes abandoned event queues.
PRUNE_INTERVAL = 300.0
#: Seconds a worker gets for a warm shutdown before it is killed.
WORKER_STOP_GRACE = 10.0


# -- server -------------------------------------------------------------------------------------
def serve(
    project: Project,
    *,
    host: str,
    port: int,
    debug: bool,
    prod: bool,
    workers: int,
    with_worker: bool,
) -> None:
    """Start the embedded worker when needed, then serve the (started) project until stopped."""
    config = project.config
    if port == 0:
        # pick it now, so what managers are told (and print) is the real address
        from ._net import free_port

        port = free_port(host)
    if prod:
        require_production_secret(project)
        if "SESSION_COOKIE_SECURE" not in config.app:
            project.app.config["SESSION_COOKIE_SECURE"] = True
    _exit_cleanly_on_sigterm()
    reloader_parent = debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true"
    if not reloader_parent:
        serving = ServeInfo(host=host, port=port, debug=debug, prod=prod)
        for manager in list(project.managers):
            manager.on_serve(project, serving)
    if config.is_embedded_broker and with_worker and not reloader_parent:
        start_embedded_worker(project)
    elif not config.is_embedded_broker and not reloader_parent:
        click.echo(
            f"flasker: tasks go to {_masked_broker(project)}; start workers with 'flasker worker'",
            err=True,
        )
    click.echo(f"flasker: serving {config.name!r} from {config.path}", err=True)
    if prod:
        _serve_gunicorn(project, host=host, port=port, workers=workers)
    else:
        from werkzeug.serving import run_simple

        project.app.debug = debug
        run_simple(
            host,
            port,
            project.app,
            use_reloader=debug,
            use_debugger=debug,
            threaded=True,
            extra_files=[str(config.path)] if debug else None,
        )


#: Shorter secrets are guessable; Flask signs sessions with this key.
MIN_SECRET_LENGTH = 16


def require_production_secret(project: Project) -> None:
    """Refuse to serve in production with no SECRET_KEY, a short one, or the default text of a
    `${SECRET_KEY:-default}` (the value every checkout of the project shares)."""
    config = project.config
    secret = project.app.secret_key
    line = config.line_of("APP", "SECRET_KEY")
    where = f"{config.path}:{line}" if line else str(config.path)
    fallback = config.fallbacks.get(("APP", "SECRET_KEY"))
    if not secret:
        raise ProjectError(
            f"--prod needs a SECRET_KEY: add 'SECRET_KEY = ${{SECRET_KEY}}' to [APP] in "
            f"{config.path} and set the SECRET_KEY environment variable"
        )
    if fallback and secret == config.app.get("SECRET_KEY"):
        names = " or ".join(fallback)
        raise ProjectError(
            f"--prod refuses the default SECRET_KEY written in {where}: set the environment "
            f"variable {names} (e.g. to the output of: python -c 'import secrets; "
            "print(secrets.token_hex(32))')"
        )
    if len(str(secret)) < MIN_SECRET_LENGTH:
        raise ProjectError(
            f"--prod refuses a SECRET_KEY shorter than {MIN_SECRET_LENGTH} characters ({where})"
        )


def _masked_broker(project: Project) -> str:
    from .introspect import mask_url

    return mask_url(str(project.config.celery.get("broker_url")))


def _exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so atexit handlers (stopping the worker) run.

    A second SIGTERM (`timeout` signals the process group, then uv forwards it again) must not
    interrupt that clean-up, so the first one switches the handler off.
    """
    if threading.current_thread() is not threading.main_thread():
        return

    def exit_once(_signum: int, _frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sys.exit(0)

    signal.signal(signal.SIGTERM, exit_once)


def start_embedded_worker(project: Project) -> subprocess.Popen[bytes]:
    """Start `flasker worker` for this project in a child process, stopped at exit."""
    command = [
        sys.executable,
        "-m",
        "flasker",
        "-c",
        str(project.config.path),
        "worker",
        "--loglevel=INFO",
        "--concurrency=2",
    ]
    environment = {**os.environ, PARENT_PID_VARIABLE: str(os.getpid())}
    # A session of its own: Ctrl+C or a signal to the server's process group reaches only the
    # server, which then stops the worker and its pool processes in order.
    child = subprocess.Popen(command, env=environment, start_new_session=True)
    click.echo(f"flasker: embedded worker started (pid {child.pid})", err=True)
    atexit.register(stop_process, child)
    return child


def stop_process(child: subprocess.Popen[bytes], grace: float = WORKER_STOP_GRACE) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL to its whole process group after `grace` seconds."""
    if child.poll() is not None:
        return
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not orphan it
    child.terminate()
    try:
        child.wait(grace)
    except subprocess.TimeoutExpired:
        _kill_group(child.pid)
        child.wait()


def _kill_group(leader: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)


def _serve_gunicorn(project: Project, *, host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    def post_fork(_server: Any, _worker: Any) -> None:
        # Connections opened in the master must not be shared with the forked workers.
        if "db" in project.__dict__:
            project.db.engine.dispose(close=False)

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": 4,
        "preload_app": True,
        "post_fork": post_fork,
        "accesslog": "-",
        "errorlog": "-",
        # gunicorn 25+ opens a control socket at one path per user (~/.gunicorn/gunicorn.ctl):
        # a second `flasker server --prod` on the host takes it over and deletes it when it
        # stops. flasker does not drive gunicornc, so none is opened.
        "control_socket_disable": True,
    }

    class FlaskerGunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return project.app

    FlaskerGunicorn().run()


# -- worker -------------------------------------------------------------------------------------
def run_worker(project: Project, argv: Sequence[str]) -> None:
    """Run `celery worker` for the project with flasker's process hygiene around it."""
    from celery.signals import worker_process_init

    celery = project.celery

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]  # celery is untyped
    def _fresh_connections(**_kwargs: Any) -> None:
        # A prefork child must not reuse connections its parent opened.
        if "db" in project.__dict__:
            project.db.engine.dispose(close=False)

    if project.config.is_embedded_broker:
        _start_pruning(project)
    _watch_parent()
    celery.worker_main(list(argv))


def _start_pruning(project: Project) -> None:
    """Prune the on-disk broker and the expired results now and every PRUNE_INTERVAL."""

    def loop() -> None:
        while True:
            time.sleep(PRUNE_INTERVAL)
            prune_embedded_state(project)

    prune_embedded_state(project)
    threading.Thread(target=loop, name="flasker-prune", daemon=True).start()


def prune_embedded_state(project: Project) -> None:
    """Keep the embedded set-up's files bounded, whatever the uptime: unbind abandoned event
    queues (and their messages) of the on-disk broker, and delete task results older than
    `result_expires` (a day by default). Celery deletes expired results only from beat's
    `celery.backend_cleanup`, which the embedded worker does not run, so without this the
    result store would grow by a row for every task ever run."""
    from ._fsbroker import BrokerFolders, prune_stale

    try:
        report = prune_stale(BrokerFolders(project.config.state_folder))
    except OSError as error:
        logger.warning("pruning the embedded broker failed: %s", error)
    else:
        if report.unbound:
            logger.info(
                "embedded broker: removed %d abandoned queue(s) and %d message(s)",
                len(report.unbound),
                report.removed_messages,
            )
    if project.celery.conf.result_expires:
        try:
            project.celery.backend.cleanup()
        except Exception as error:  # a locked or damaged store must not stop the worker
            logger.warning("deleting expired task results failed: %s", error)


def _watch_parent() -> None:
    """In an embedded worker: shut down warmly when the server that started it is gone."""
    expected = os.environ.pop(PARENT_PID_VARIABLE, None)
    if not expected or not expected.isdigit():
        return
    parent = int(expected)
    me = os.getpid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(me, signal.SIGTERM)
        time.sleep(WORKER_STOP_GRACE)
        # still here: the warm shutdown hung; end the worker and its pool processes
        if os.getpgid(0) == me:
            _kill_group(me)
        else:
            os.kill(me, signal.SIGKILL)

    threading.Thread(target=watch, name="flasker-parent-watch", daemon=True).start()
