"""`flasker console`: serve the console alone over a project's cfg file.

Added to the `flasker` command through the `flasker.commands` entry point. The project's
modules are not imported (only its cfg is read, and its database and broker checked), so a
project whose code fails to import can still be inspected and its cfg fixed::

    flasker -c examples/houses/default.cfg console --port 5050

Mounted in a project instead (`ConsoleManager`), the console sits behind flasker-auth.
"""

from __future__ import annotations

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
@pass_info
def console_command(info: ScriptInfo, host: str, port: int) -> None:
    """Serve the console (overview and cfg editor) for the project's cfg file.

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
    project = Project(info.load_config())
    app = project.app
    if not app.secret_key:
        # this process serves only the console: a key of its own signs its CSRF tokens
        app.secret_key = secrets.token_hex(32)
    project.register_manager(ConsoleManager(url_prefix="/"))
    click.echo(f"flasker console for {project.config.path}: http://{host}:{port}/", err=True)
    app.run(host=host, port=port, debug=False, use_reloader=False)
