"""`flasker console`: serve the console alone over a project's cfg file.

Added to the `flasker` command through the `flasker.commands` entry point. The project's
modules are not imported (only its cfg is read, and its database and broker checked), so a
project whose code fails to import can still be inspected and its cfg fixed::

    flasker -c examples/houses/default.cfg console --port 5050
    flasker console --root ./projects     # every project of a folder (standalone.py)
    flasker console --root ./projects --auth console.cfg --host 0.0.0.0   # behind sign-in

Mounted in a project instead (`ConsoleManager`), the console sits behind flasker-auth; so does
the standalone one with `--auth` (standalone_auth.py).
"""

from __future__ import annotations

from pathlib import Path

import click

from flasker.cli import ScriptInfo, pass_info


@click.command("console", short_help="Serve the operator console over this project's cfg.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on: loopback only, unless --auth puts the console behind sign-in.",
)
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
@click.option(
    "--auth",
    "auth_cfg",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --root: put every page behind flasker-auth, configured by this cfg of the "
    "console's own ([PROJECT] NAME, DB_URL; [APP] SECRET_KEY; [AUTH] as in a project).",
)
@pass_info
def console_command(
    info: ScriptInfo, host: str, port: int, root: Path | None, auth_cfg: Path | None
) -> None:
    """Serve the console for the project's cfg file, or with --root for a folder of projects.

    The projects' modules are never imported in this process: tasks and endpoints are listed
    by subprocesses, so a project whose code fails to import can still be inspected and fixed.

    Without --auth this standalone console has no sign-in, so it listens on this machine only
    (a loopback address). With --root and --auth CFG, flasker-auth signs operators in (viewers
    read, admins change) and --host may be any address its rules allow (off loopback: a
    provider and EXTERNAL_URL or TRUSTED_HOSTS). Or mount ConsoleManager in the project next to
    flasker-auth's AuthManager and use `flasker server`.
    """
    import secrets

    from flasker.manager import ServeInfo
    from flasker.project import Project

    from .manager import ConsoleManager

    if auth_cfg is not None:
        if root is None:
            raise click.UsageError(
                "--auth goes with --root; for one project, mount ConsoleManager next to "
                "flasker-auth's AuthManager and use 'flasker server'"
            )
        _serve_root(root, host, port, auth_cfg)
        return
    if not ServeInfo(host, port, debug=False, prod=False).is_loopback:
        raise click.UsageError(
            f"--host {host}: the standalone console has no sign-in, so it only listens on "
            "loopback (127.0.0.1, ::1, localhost); add --auth CFG (with --root), or mount "
            "ConsoleManager behind flasker-auth, to serve it elsewhere"
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
    from ._hosts import guard_hosts

    # Flask's documented middleware pattern; mypy sees wsgi_app as a method
    app.wsgi_app = guard_hosts(app.wsgi_app)  # type: ignore[method-assign, assignment]
    click.echo(f"flasker console for {project.config.path}: http://{host}:{port}/", err=True)
    app.run(host=host, port=port, debug=False, use_reloader=False)


def _serve_root(root: Path, host: str, port: int, auth_cfg: Path | None = None) -> None:
    from flasker.exceptions import FlaskerError

    from .standalone import StandaloneConsole

    try:
        console = StandaloneConsole(root, auth=auth_cfg)
    except FlaskerError as error:
        raise click.ClickException(str(error)) from None
    try:
        if console.hub is not None:
            if port == 0:
                from flasker._net import free_port

                port = free_port(host)  # the dev sign-in link must name the real port
            try:
                console.hub.check_serving(host, port)
            except FlaskerError as error:
                raise click.UsageError(str(error)) from None
            console.hub.on_serve(host, port)
        click.echo(
            f"flasker console for the projects in {console.root}: http://{host}:{port}/"
            + (f" (sign-in: {console.hub.cfg})" if console.hub is not None else ""),
            err=True,
        )
        _run(console, host, port)
    finally:
        console.close()


def _run(app: object, host: str, port: int) -> None:
    """Serve `app` until stopped (a seam for tests)."""
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)  # type: ignore[arg-type]
