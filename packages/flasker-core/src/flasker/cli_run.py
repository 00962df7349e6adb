"""The `flasker` commands that run a project, or make one: `new`, `server`, `worker`, `flower`
and `shell`. `flasker.cli` adds them to the group.

Each imports what it runs (Flask, Celery, gunicorn) only when it runs, so `flasker --help`
stays quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import click

from .cli_context import LOOPBACK, PASSTHROUGH, ScriptInfo, pass_info


# -- new ----------------------------------------------------------------------------------------
@click.command("new", short_help="Create a project: a cfg file and a small app.")
@click.argument("template", type=click.Choice(["basic", "celery", "minimal"]), default="basic")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("-a", "--no-app", is_flag=True, help="Write the cfg file only, no app package.")
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--name", help="Project name (default: the folder's name).")
@click.option("--db-url", help="DB_URL to write (default: SQLite in the project folder).")
@click.option("--broker-url", help="Celery broker URL (default: the embedded on-disk broker).")
def new_command(
    template: str,
    folder: Path,
    no_app: bool,
    force: bool,
    name: str | None,
    db_url: str | None,
    broker_url: str | None,
) -> None:
    """Create a project in FOLDER (default: here) from TEMPLATE (basic, celery or minimal).

    basic writes default.cfg and a small Bootstrap-styled app (a page, a model, a task);
    celery writes the same app with task queues, task routing and named workers in its
    [CELERY] section (flasker 0.1's second template); minimal writes default.cfg and one
    module. Existing files are never overwritten without --force.
    """
    from .scaffold import scaffold

    created = scaffold(
        folder,
        template=template,
        with_app=not no_app,
        force=force,
        name=name,
        db_url=db_url,
        broker_url=broker_url,
    )
    for path in created:
        click.echo(f"wrote {path}")
    cfg = folder / "default.cfg"
    click.echo(f"\nNext: cd {folder} && flasker server   (or flasker -c {cfg} server)")


# -- server -------------------------------------------------------------------------------------
@click.command("server", short_help="Serve the app (and an embedded worker).")
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to listen on.")
@click.option(
    "-r",
    "--restrict",
    is_flag=True,
    help="Listen on 127.0.0.1 only: the same as --host 127.0.0.1, which is already the default "
    "(flasker 0.1's -r; without it 0.1 listened on 0.0.0.0, flasker needs --host 0.0.0.0).",
)
@click.option(
    "--port",
    "-p",
    default=5000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0 picks a free one).",
)
@click.option("--debug", "-d", is_flag=True, help="Debug mode: reloader and in-browser debugger.")
@click.option("--prod", is_flag=True, help="Serve with gunicorn instead of the development server.")
@click.option(
    "--workers",
    "-w",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="gunicorn worker processes (with --prod).",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not start the embedded Celery worker (embedded broker only).",
)
@pass_info
def server_command(
    info: ScriptInfo,
    host: str,
    restrict: bool,
    port: int,
    debug: bool,
    prod: bool,
    workers: int,
    no_worker: bool,
) -> None:
    """Serve the project's app.

    With the embedded broker (no [CELERY] broker_url) a Celery worker also runs in a child
    process, so tasks work with nothing else installed; --no-worker skips it.
    """
    from . import _serve

    if debug and prod:
        raise click.UsageError("--debug and --prod cannot be combined")
    if restrict and host != LOOPBACK:
        raise click.UsageError(
            f"-r means --host {LOOPBACK}; it cannot be combined with --host {host}"
        )
    if restrict:
        host = LOOPBACK
    _serve.serve(
        info.load_project(),
        host=host,
        port=port,
        debug=debug,
        prod=prod,
        workers=workers,
        with_worker=not no_worker,
    )


# -- worker and flower ------------------------------------------------------------------------
@click.command("worker", short_help="Start a Celery worker.", context_settings=PASSTHROUGH)
@click.option("--beat", "-B", is_flag=True, help="Also run the periodic scheduler (beat_schedule).")
@click.option(
    "--loglevel",
    "-l",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    help="Worker log level.",
)
@click.pass_context
def worker_command(ctx: click.Context, beat: bool, loglevel: str) -> None:
    """Start a Celery worker for the project. Other options go to 'celery worker' unchanged
    (e.g. --concurrency 4 -Q default -n w1@%h)."""
    from . import _serve

    info = cast(ScriptInfo, ctx.find_object(ScriptInfo))  # the `cli` group always sets it
    project = info.load_project()
    argv = ["worker", f"--loglevel={loglevel.upper()}", *ctx.args]
    if beat:
        argv.append("--beat")
    _serve.run_worker(project, argv)


@click.command("flower", short_help="Start Flower, Celery's monitor.", context_settings=PASSTHROUGH)
@click.option(
    "--port",
    "-p",
    default=5555,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--url-prefix", default="", help="Serve under this path, e.g. flower.")
@click.pass_context
def flower_command(ctx: click.Context, port: int, address: str, url_prefix: str) -> None:
    """Start Flower on the project's broker. Other options go to 'celery flower' unchanged."""
    info = cast(ScriptInfo, ctx.find_object(ScriptInfo))  # the `cli` group always sets it
    project = info.load_project()
    argv = ["flower", f"--port={port}", f"--address={address}", *ctx.args]
    if url_prefix:
        argv.append(f"--url_prefix={url_prefix.strip('/')}")
    project.celery.start(argv)


# -- shell --------------------------------------------------------------------------------------
@click.command("shell", short_help="Python shell with the project loaded.")
@pass_info
def shell_command(info: ScriptInfo) -> None:
    """Start IPython (or the plain console) with project, app, db, session, celery and every
    model in the namespace, inside the app context."""
    from .model import Model

    project = info.load_project()
    namespace: dict[str, Any] = {
        "project": project,
        "app": project.app,
        "db": project.db,
        "session": project.db.session,
        "celery": project.celery,
        "Model": Model,
    }
    namespace.update({m.class_.__name__: m.class_ for m in Model.registry.mappers})
    banner = f"Flasker shell for {project.config.name} ({project.config.path})\n" + ", ".join(
        sorted(namespace)
    )
    with project.app.app_context():
        try:
            # optional: IPython may not be installed (nor typed where it is)
            from IPython import start_ipython  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            import code

            code.interact(banner=banner, local=namespace)
        else:
            print(banner)
            start_ipython(argv=[], user_ns=namespace)
