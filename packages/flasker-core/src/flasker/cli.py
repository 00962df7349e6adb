"""The `flasker` command line: one entry point for the app server, workers, Flower and tools.

Commands import Flask, SQLAlchemy and Celery only when they run, so `flasker --help` stays as
quick as a plain click program. Extension packages add commands through the entry-point group
`flasker.commands`. Expected errors (`FlaskerError`) are printed without a traceback.
"""

from __future__ import annotations

import sys
import traceback
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from .exceptions import FlaskerError

if TYPE_CHECKING:
    from .config import Config
    from .project import Project

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: Where `flasker server` listens by default, and all that `-r` (flasker 0.1's option) allows.
LOOPBACK = "127.0.0.1"
PASSTHROUGH = {**CONTEXT_SETTINGS, "ignore_unknown_options": True, "allow_extra_args": True}


class ScriptInfo:
    """What every command receives: the cfg path option and the project, loaded on demand."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._project: Project | None = None

    def find_config(self) -> Path:
        from .discovery import find_config

        return find_config(self.config_path)

    def load_config(self) -> Config:
        from .config import load_config

        return load_config(self.find_config())

    def load_project(self, start: bool = True) -> Project:
        if self._project is None:
            self._project = self._already_running()
        if self._project is None:
            from .project import Project

            project = Project(self.load_config())
            if start:
                project.start()
            self._project = project
        return self._project

    def _already_running(self) -> Project | None:
        """The started project of the same cfg in this process (a test suite, a shell).

        Its MODULES were imported once and their routes and tasks live on it; a second project
        of the same cfg would get empty apps, since Python does not import a module twice.
        """
        from . import globals as _globals

        path = self.find_config().absolute()
        for project in reversed(_globals._active):
            if project.is_started and project.config.path == path:
                return project
        return None

    def load_project_without_db(self) -> Project:
        """The project with its modules imported but its database untouched."""
        if self._project is None:
            self._project = self._already_running()
        if self._project is None:
            from .project import Project

            self._project = Project(self.load_config()).start(prepare_schema=False)
        return self._project


pass_info = click.make_pass_decorator(ScriptInfo)


class FlaskerGroup(click.Group):
    """A group that adds extension commands lazily and turns FlaskerError into a clean exit."""

    def _plugins(self) -> dict[str, Any]:
        return {point.name: point for point in entry_points(group="flasker.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._plugins()})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        point = self._plugins().get(name)
        return point.load() if point is not None else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FlaskerError as error:
            raise _click_error(error) from None


def _click_error(error: FlaskerError) -> click.ClickException:
    cause = error.__cause__
    message = str(error)
    if cause is not None and not isinstance(cause, FlaskerError | click.ClickException):
        details = "".join(traceback.format_exception(cause)).rstrip()
        message = f"{message}\n\n{details}"
    exception = click.ClickException(message)
    # click documents setting it per instance; its annotations declare a ClassVar.
    exception.exit_code = error.exit_code  # type: ignore[misc]
    return exception


@click.group(cls=FlaskerGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    envvar=None,
    help="The project's cfg file (default: $FLASKER_CONFIG, default.cfg or the only *.cfg here, "
    "then [tool.flasker] config in pyproject.toml). flasker 0.1's --conf PATH works too.",
)
@click.option("--conf", "conf_path", metavar="PATH", hidden=True, help="Same as -c/--config.")
@click.version_option(
    package_name="flasker-core", prog_name="flasker", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, conf_path: str | None) -> None:
    """Flasker: one .cfg file drives a Flask app, its database and its Celery workers."""
    if config_path is not None and conf_path is not None and config_path != conf_path:
        raise click.UsageError("-c/--config and --conf (its flasker 0.1 spelling) name one file")
    ctx.obj = ScriptInfo(config_path if config_path is not None else conf_path)


def main() -> None:
    cli.main(prog_name="flasker")


# -- new ----------------------------------------------------------------------------------------
@cli.command("new", short_help="Create a project: a cfg file and a small app.")
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
@cli.command("server", short_help="Serve the app (and an embedded worker).")
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
        info,
        host=host,
        port=port,
        debug=debug,
        prod=prod,
        workers=workers,
        with_worker=not no_worker,
    )


# -- worker and flower ------------------------------------------------------------------------
@cli.command("worker", short_help="Start a Celery worker.", context_settings=PASSTHROUGH)
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


@cli.command("flower", short_help="Start Flower, Celery's monitor.", context_settings=PASSTHROUGH)
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
@cli.command("shell", short_help="Python shell with the project loaded.")
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


# -- db -----------------------------------------------------------------------------------------
@cli.group("db", context_settings=CONTEXT_SETTINGS, short_help="Database schema and migrations.")
def db_group() -> None:
    """Create tables, or manage Alembic migrations (in migrations/ beside the cfg)."""


@db_group.command("create", short_help="Create missing tables.")
@pass_info
def db_create_command(info: ScriptInfo) -> None:
    """Create every table of the project's models that does not exist yet."""
    project = info.load_project()
    created = project.db.create_all()
    click.echo(f"created {', '.join(created)}" if created else "all tables exist already")


@db_group.command("init", short_help="Start using Alembic migrations.")
@pass_info
def db_init_command(info: ScriptInfo) -> None:
    """Write migrations/ beside the cfg; from then on Alembic owns the schema."""
    from . import migrations

    project = info.load_project(start=False)
    folder = migrations.init(project)
    click.echo(f"created {folder}\nNext: flasker db revision --autogenerate -m 'initial'")


@db_group.command("revision", short_help="Write a new migration.")
@click.option("-m", "--message", required=True, help="What the migration does.")
@click.option("--autogenerate", is_flag=True, help="Compare the models with the database.")
@pass_info
def db_revision_command(info: ScriptInfo, message: str, autogenerate: bool) -> None:
    """Write a migration script into migrations/versions."""
    from . import migrations

    for path in migrations.revision(info.load_project(), message, autogenerate):
        click.echo(f"wrote {path}")


@db_group.command("upgrade", short_help="Apply migrations.")
@click.argument("target", default="heads")
@pass_info
def db_upgrade_command(info: ScriptInfo, target: str) -> None:
    """Upgrade the database to TARGET (default: the latest revision)."""
    from . import migrations

    migrations.upgrade(info.load_project(), target)
    click.echo(f"database at {', '.join(migrations.current_heads(info.load_project())) or 'base'}")


@db_group.command("downgrade", short_help="Revert migrations.")
@click.argument("target", default="-1")
@pass_info
def db_downgrade_command(info: ScriptInfo, target: str) -> None:
    """Downgrade the database to TARGET (default: one revision back)."""
    from . import migrations

    migrations.downgrade(info.load_project(), target)
    click.echo(f"database at {', '.join(migrations.current_heads(info.load_project())) or 'base'}")


@db_group.command("current", short_help="Show the database's revision.")
@pass_info
def db_current_command(info: ScriptInfo) -> None:
    """Print the revision the database is at, and how many are pending."""
    from . import migrations

    project = info.load_project()
    heads = migrations.current_heads(project)
    click.echo(", ".join(heads) if heads else "base (no migration applied)")
    if project.migrations_folder.is_dir():
        pending = migrations.pending_revisions(project)
        if pending:
            click.echo(f"{len(pending)} pending: {', '.join(pending)} (flasker db upgrade)")


@db_group.command("history", short_help="List migrations.")
@pass_info
def db_history_command(info: ScriptInfo) -> None:
    """List every migration, newest first."""
    from . import migrations

    for line in migrations.history(info.load_project()):
        click.echo(line)


# -- routes, tasks ------------------------------------------------------------------------------
@cli.command("routes", short_help="List the app's URL rules.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for tools and the console).")
@pass_info
def routes_command(info: ScriptInfo, as_json: bool) -> None:
    """List every URL rule of the app with its endpoint and methods."""
    from .introspect import routes

    rows = routes(info.load_project_without_db())  # listing routes needs no database
    if as_json:
        _echo_json(rows)
        return
    _echo_table(
        ["endpoint", "methods", "rule"],
        [[r["endpoint"], ",".join(r["methods"]), r["rule"]] for r in rows],
    )


@cli.command("tasks", short_help="List registered Celery tasks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for tools and the console).")
@pass_info
def tasks_command(info: ScriptInfo, as_json: bool) -> None:
    """List the project's Celery tasks with their signatures."""
    from .introspect import tasks

    rows = tasks(info.load_project_without_db())  # nor does listing tasks
    if as_json:
        _echo_json(rows)
        return
    _echo_table(["task", "signature", "doc"], [[r["name"], r["signature"], r["doc"]] for r in rows])


# -- check, config ------------------------------------------------------------------------------
@cli.command("check", short_help="Check the cfg, database and broker.")
@click.option(
    "--timeout",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0.1, 60),
    help="Seconds to wait for each service.",
)
@pass_info
def check_command(info: ScriptInfo, timeout: float) -> None:
    """Validate the cfg, import the modules, connect to the database and the broker.

    Prints OK or FAIL for each part; exits 1 when any part fails.
    """
    from .health import run_checks

    failed = False
    for result in run_checks(info, timeout=timeout):
        failed |= not result.ok
        status = click.style("OK  ", fg="green") if result.ok else click.style("FAIL", fg="red")
        detail = result.detail.replace("\n", "\n" + " " * 16)
        click.echo(f"{status} {result.name:<10} {detail}")
    if failed:
        sys.exit(1)


@cli.group("config", context_settings=CONTEXT_SETTINGS, short_help="Show the configuration.")
def config_group() -> None:
    """Inspect the project's configuration."""


@config_group.command("show", short_help="Print the validated configuration.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--secrets", is_flag=True, help="Show secret values instead of masking them.")
@pass_info
def config_show_command(info: ScriptInfo, as_json: bool, secrets: bool) -> None:
    """Print every section with typed values (after ${ENV} interpolation and defaults),
    Celery keys under their Celery 5 names. Secrets are masked unless --secrets."""
    from .introspect import config_summary

    config = info.load_config()
    summary = config_summary(config, mask=not secrets)
    note = _app_folder_note(config)
    if as_json:
        _echo_json({**summary, "app_folder": str(config.app_folder)})
        return
    click.echo(f"# {summary['path']}")
    for section, values in summary["sections"].items():
        click.echo(f"[{section}]")
        for key, value in values.items():
            click.echo(f"{key} = {value!r}")
        if section == "PROJECT" and note:
            click.echo(note)
        click.echo("")


def _app_folder_note(config: Config) -> str | None:
    """Which app folder was chosen when APP_FOLDER is not written (see `Config.app_folder`),
    as a cfg comment: the cfg's own folder, or flasker 0.1's `app/`."""
    from .config import LEGACY_APP_FOLDER

    if config.get("PROJECT", "APP_FOLDER"):
        return None
    folder = config.app_folder
    if folder == config.folder / LEGACY_APP_FOLDER:
        why = f"{LEGACY_APP_FOLDER}/ has the templates or static files: flasker 0.1's default"
    else:
        why = "the cfg file's folder"
    return f"# APP_FOLDER not written: {folder} ({why})"


# -- output helpers -----------------------------------------------------------------------------
def _echo_json(value: Any) -> None:
    from .json import dumps

    click.echo(dumps(value, indent=True).decode())


def _echo_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(str(r[i])) for r in rows)]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(line.rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
