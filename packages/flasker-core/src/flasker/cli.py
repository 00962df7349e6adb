"""The `flasker` command line: one entry point for the app server, workers, Flower and tools.

Commands import Flask, SQLAlchemy and Celery only when they run, so `flasker --help` stays as
quick as a plain click program. Extension packages add commands through the entry-point group
`flasker.commands`. Expected errors (`FlaskerError`) are printed without a traceback.

The group is here; its commands are in `cli_run` (new, server, worker, flower, shell),
`cli_db` (db …) and `cli_info` (routes, tasks, check, config show), and what they share
(`ScriptInfo`, `pass_info`, the context settings) in `cli_context`, all importable from here.
"""

from __future__ import annotations

import traceback
from importlib.metadata import entry_points
from typing import Any

import click

from . import cli_db, cli_info, cli_run
from .cli_context import CONTEXT_SETTINGS, LOOPBACK, PASSTHROUGH, ScriptInfo, pass_info
from .exceptions import FlaskerError

__all__ = [
    "CONTEXT_SETTINGS",
    "LOOPBACK",
    "PASSTHROUGH",
    "FlaskerGroup",
    "ScriptInfo",
    "cli",
    "main",
    "pass_info",
]


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


for _command in (
    cli_run.new_command,
    cli_run.server_command,
    cli_run.worker_command,
    cli_run.flower_command,
    cli_run.shell_command,
    cli_db.db_group,
    cli_info.routes_command,
    cli_info.tasks_command,
    cli_info.check_command,
    cli_info.config_group,
):
    cli.add_command(_command)
