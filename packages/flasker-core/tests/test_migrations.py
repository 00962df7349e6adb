"""Alembic through the CLI: `flasker db init` hands the schema to migrations beside the cfg,
`db revision --autogenerate`, `db upgrade/downgrade/current/history`; start-up then stops
creating tables and warns, naming the command, while the database is behind."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from flasker import Project

from ._project_helpers import invoke, models_source, process_state_restored, unique, write_project

pytestmark = pytest.mark.usefixtures("isolated")


def _project(tmp_path: Path, db_url: str | None = None) -> Path:
    module = unique("migrated")
    db = f"DB_URL = {db_url}\n" if db_url else ""
    return write_project(
        tmp_path, f"[PROJECT]\nNAME = migrated\nMODULES = {module}\n{db}", {module: models_source()}
    )


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'db.sqlite'}"


def test_init_revision_upgrade_downgrade(tmp_path: Path, db_url: str, caplog) -> None:
    cfg = _project(tmp_path, db_url)

    output = _ok(invoke(cfg, "db", "init"))
    migrations = tmp_path / "migrations"
    assert str(migrations) in output
    assert "flasker db revision --autogenerate" in output
    assert (migrations / "env.py").is_file()
    assert (migrations / "script.py.mako").is_file()
    assert (migrations / "versions").is_dir()
    # from now on Alembic owns the schema: nothing was created behind its back
    assert _tables(db_url) == set()

    output = _ok(invoke(cfg, "db", "revision", "--autogenerate", "-m", "houses and cats"))
    (script,) = (migrations / "versions").glob("*.py")
    assert str(script) in output
    text = script.read_text()
    assert "create_table('houses'" in text or 'create_table("houses"' in text
    assert "houses and cats" in text
    revision = script.name.split("_")[0]

    assert "1 pending" in _ok(invoke(cfg, "db", "current"))

    # start-up does not create tables while migrations exist, and says what to run
    caplog.set_level(logging.WARNING, logger="flasker.project")
    caplog.clear()
    with process_state_restored():
        Project(cfg).start()
    assert _tables(db_url) <= {"alembic_version"}  # autogenerate made only Alembic's own
    (warning,) = [r.getMessage() for r in caplog.records if "behind" in r.getMessage()]
    assert "1 migration(s) behind" in warning
    assert revision in warning
    assert "flasker db upgrade" in warning

    assert revision in _ok(invoke(cfg, "db", "upgrade"))
    assert {"houses", "cats", "alembic_version"} <= _tables(db_url)
    current = _ok(invoke(cfg, "db", "current"))
    assert current.strip() == revision

    history = _ok(invoke(cfg, "db", "history"))
    assert f"<base> -> {revision}: houses and cats" in history

    caplog.clear()
    with process_state_restored():
        Project(cfg).start()
    assert not [r for r in caplog.records if "behind" in r.getMessage()]

    assert "database at base" in _ok(invoke(cfg, "db", "downgrade"))
    assert _tables(db_url) == {"alembic_version"}
    assert "base (no migration applied)" in _ok(invoke(cfg, "db", "current"))


def test_init_refuses_an_existing_folder(tmp_path: Path) -> None:
    cfg = _project(tmp_path)
    _ok(invoke(cfg, "db", "init"))
    result = invoke(cfg, "db", "init")
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "command", [["upgrade"], ["downgrade"], ["history"], ["revision", "-m", "x"]]
)
def test_migration_commands_need_init_first(tmp_path: Path, command: list[str]) -> None:
    cfg = _project(tmp_path)
    result = invoke(cfg, "db", *command)
    assert result.exit_code == 1
    assert "run 'flasker db init' first" in result.output
    assert "Traceback" not in result.output


def test_db_create_creates_missing_tables(tmp_path: Path) -> None:
    cfg = _project(tmp_path)
    (tmp_path / "default.cfg").write_text(cfg.read_text() + "CREATE_TABLES = false\n")
    output = _ok(invoke(cfg, "db", "create"))
    assert "created houses, cats" in output
    assert _tables(f"sqlite:///{tmp_path / 'db.sqlite'}") == {"houses", "cats"}
    assert "all tables exist already" in _ok(invoke(cfg, "db", "create"))
