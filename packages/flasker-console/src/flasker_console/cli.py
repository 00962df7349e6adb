"""`flasker console`: serve the console alone over a project's cfg file.

Added to the `flasker` command through the `flasker.commands` entry point. The project's
modules are not imported (only its cfg is read, and its database and broker checked), so a
project whose code fails to import can still be inspected and its cfg fixed::

    flasker -c examples/houses/default.cfg console --port 5050
    flasker console --root ./projects     # every project of a folder (standalone.py)

Mounted in a project instead (`ConsoleManager`), the console sits behind flasker-auth.
"""

from __future__ import annotations

from pathlib import Path

import click

from flasker.cli import ScriptInfo, pass_info


@click.command("console", short_help="Serve the operator console over this project's cfg.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to use.")
@click.option(
    "--port",
    "-p",
    default=5050,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Serve every project in this folder: the Projects page at /, each project's "
    "console at /p/<folder>/ (no -c needed).",
)
@pass_info
def console_command(info: ScriptInfo, host: str, port: int, root: Path | None) -> None:
    """Serve the console for the project's cfg file, or with --root for a folder of projects.

    The projects' modules are never imported in this process: tasks and endpoints are listed
    by subprocesses, so a project whose code fails to import can still be inspected and fixed.

    This standalone console has no sign-in, so it listens on this machine only (a loopback
    address). To reach the console from elsewhere, mount ConsoleManager in the project next to
    flasker-auth's AuthManager and use `flasker server`.
    """
    import secrets

    from flasker.manager import ServeInfo
    from flasker.project import Project

    from .manager import ConsoleManager

    if not ServeInfo(host, port, debug=False, prod=False).is_loopback:
        raise click.UsageError(
            f"--host {host}: the standalone console has no sign-in, so it only listens on "
            "loopback (127.0.0.1, ::1, localhost); mount ConsoleManager behind flasker-auth "
            "to serve it elsewhere"
        )
    if root is not None:
        _serve_root(root, host, port)
        return
    project = Project(info.load_config())
    app = project.app
    if not app.secret_key:
        # this process serves only the console: a key of its own signs its CSRF tokens
        app.secret_key = secrets.token_hex(32)
    project.register_manager(ConsoleManager(url_prefix="/"))
    from .standalone import loopback_only

    app.wsgi_app = loopback_only(app.wsgi_app)  # type: ignore[method-assign]
    click.echo(f"flasker console for {project.config.path}: http://{host}:{port}/", err=True)
    app.run(host=host, port=port, debug=False, use_reloader=False)


def _serve_root(root: Path, host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from .standalone import StandaloneConsole

    console = StandaloneConsole(root)
    click.echo(
        f"flasker console for the projects in {console.root}: http://{host}:{port}/", err=True
    )
    try:
        run_simple(host, port, console, threaded=True, use_reloader=False)
    finally:
        console.close()
