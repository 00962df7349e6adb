"""`flasker db …`: create tables, or manage Alembic migrations (in migrations/ beside the cfg).

`flasker.cli` adds the group to the `flasker` command.
"""

from __future__ import annotations

from typing import Literal

import click

from .cli_context import CONTEXT_SETTINGS, ScriptInfo, pass_info


# -- db -----------------------------------------------------------------------------------------
@click.group("db", context_settings=CONTEXT_SETTINGS, short_help="Database schema and migrations.")
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
    _migrate(info, "upgrade", target)


@db_group.command("downgrade", short_help="Revert migrations.")
@click.argument("target", default="-1")
@pass_info
def db_downgrade_command(info: ScriptInfo, target: str) -> None:
    """Downgrade the database to TARGET (default: one revision back)."""
    _migrate(info, "downgrade", target)


def _migrate(info: ScriptInfo, direction: Literal["upgrade", "downgrade"], target: str) -> None:
    """Move the database to TARGET, then say which revision it is at (`base`: none)."""
    from . import migrations

    project = info.load_project()
    move = migrations.upgrade if direction == "upgrade" else migrations.downgrade
    move(project, target)
    click.echo(f"database at {', '.join(migrations.current_heads(project)) or 'base'}")


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
