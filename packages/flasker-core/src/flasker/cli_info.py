"""The `flasker` commands that show a project: `routes`, `tasks`, `check` and `config show`,
as tables for people or JSON for tools (the console reads `routes --json` and `tasks --json`).

`flasker.cli` adds them to the group.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .cli_context import CONTEXT_SETTINGS, ScriptInfo, pass_info

if TYPE_CHECKING:
    from .config import Config


# -- routes, tasks ------------------------------------------------------------------------------
@click.command("routes", short_help="List the app's URL rules.")
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


@click.command("tasks", short_help="List registered Celery tasks.")
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
@click.command("check", short_help="Check the cfg, database and broker.")
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


@click.group("config", context_settings=CONTEXT_SETTINGS, short_help="Show the configuration.")
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
