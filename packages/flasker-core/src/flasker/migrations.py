"""Alembic for a project: the migrations folder lives beside the cfg file.

`flasker db init` writes `migrations/` with an `env.py` that migrates the project's `Model`
metadata through the project's own engine, so there is no alembic.ini to keep in sync with
DB_URL. Once that folder exists Alembic owns the schema: start-up stops creating tables and
warns when the database is behind.
"""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .exceptions import ProjectError

if TYPE_CHECKING:
    from .db import Database


class Project(Protocol):
    """What migrating needs of a `flasker.project.Project` (which calls `pending_revisions` at
    start-up, so this module does not import it back): where the migrations live and the
    database they apply to. Alembic's env.py receives the project itself."""

    @property
    def migrations_folder(self) -> Path: ...

    @property
    def db(self) -> Database: ...


def alembic_config(project: Project) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(project.migrations_folder))
    config.set_main_option("sqlalchemy.url", project.db.url.replace("%", "%%"))
    config.attributes["project"] = project
    return config


def init(project: Project) -> Path:
    """Write the migrations folder; refuse to overwrite one."""
    folder = project.migrations_folder
    if folder.exists():
        raise ProjectError(f"{folder} already exists; Alembic already owns this project's schema")
    ours = files("flasker") / "templates" / "alembic"
    alembic_generic = files("alembic") / "templates" / "generic"
    (folder / "versions").mkdir(parents=True)
    for name in ("env.py", "README"):
        (folder / name).write_text(ours.joinpath(name).read_text(encoding="utf-8"))
    # Alembic's own revision template, taken from the installed Alembic.
    script = alembic_generic.joinpath("script.py.mako").read_text(encoding="utf-8")
    (folder / "script.py.mako").write_text(script)
    return folder


def _require_folder(project: Project) -> None:
    if not project.migrations_folder.is_dir():
        raise ProjectError(
            f"no migrations folder at {project.migrations_folder}: run 'flasker db init' first"
        )


def revision(project: Project, message: str, autogenerate: bool) -> list[str]:
    _require_folder(project)
    scripts = command.revision(alembic_config(project), message=message, autogenerate=autogenerate)
    items = scripts if isinstance(scripts, list) else [scripts]
    return [script.path for script in items if script is not None]


def upgrade(project: Project, target: str = "heads") -> None:
    _require_folder(project)
    command.upgrade(alembic_config(project), target)


def downgrade(project: Project, target: str = "-1") -> None:
    _require_folder(project)
    command.downgrade(alembic_config(project), target)


def current_heads(project: Project) -> tuple[str, ...]:
    with project.db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_heads()


def history(project: Project) -> list[str]:
    _require_folder(project)
    script = ScriptDirectory.from_config(alembic_config(project))
    return [
        f"{rev.down_revision or '<base>'} -> {rev.revision}: {rev.doc}"
        for rev in script.walk_revisions()
    ]


def pending_revisions(project: Project) -> list[str]:
    """Revisions between the database's current heads and the scripts' heads, oldest first."""
    script = ScriptDirectory(str(project.migrations_folder))
    heads = script.get_heads()
    if not heads:
        return []
    current = current_heads(project)
    pending = [rev.revision for rev in script.iterate_revisions(tuple(heads), current or "base")]
    return list(reversed(pending))


def remove(project: Project) -> None:  # pragma: no cover - for tests and the console
    shutil.rmtree(project.migrations_folder)
