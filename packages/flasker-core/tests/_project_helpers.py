"""Shared helpers of flasker-core's integration tests: projects written into `tmp_path`.

A project here is a real cfg file plus real modules on disk, started the way the CLI starts
one. `Project.start` imports MODULES and `Model` is one declarative base per process, so the
`isolated` fixture puts back `sys.modules`, `sys.path`, the mapped models, the active projects
and the root logger after every test; module names are made unique with `unique()`.
Subprocesses (`background`, `worker_process`) and waiting on them (`wait_for`, `log_tail`) are
the pytest plugin's, `flasker.testing`, which every package's tests share.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from flasker import Project
from flasker.testing import close_project
from flasker.testing import restored_process_state as process_state_restored


def unique(prefix: str) -> str:
    """A module (or name) no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def write_project(
    folder: Path,
    cfg: str,
    modules: Mapping[str, str] | None = None,
    cfg_name: str = "default.cfg",
) -> Path:
    """Write a cfg file and modules (name -> source, dedented) into `folder`; return the cfg."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in (modules or {}).items():
        path = folder / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    cfg_path = folder / cfg_name
    cfg_path.write_text(textwrap.dedent(cfg).lstrip(), encoding="utf-8")
    return cfg_path


def models_source(prefix: str = "") -> str:
    """A module defining `{prefix}House` and `{prefix}Cat` (0.1 Column style) plus a view and a
    task that write through `db.session`, like the seed project."""
    return f"""
        from flask import abort, jsonify, request
        from sqlalchemy import Column, ForeignKey, Integer, String, Unicode, func, select
        from sqlalchemy.orm import relationship

        from flasker import current_project
        from flasker.util import Model

        app = current_project.app
        celery = current_project.celery
        db = current_project.db


        class {prefix}House(Model):
            id = Column(Integer, primary_key=True)
            address = Column(Unicode(128), nullable=False)


        class {prefix}Cat(Model):
            id = Column(Integer, primary_key=True)
            name = Column(String(64), nullable=False)
            house_id = Column(ForeignKey({prefix}House.id))
            house = relationship({prefix}House, backref="cats")


        def count():
            return db.session.scalar(select(func.count()).select_from({prefix}House))


        @app.get("/houses")
        def list_houses():
            return jsonify(count=count())


        @app.post("/houses")
        def add_house():
            db.session.add({prefix}House(address=request.args["address"]))
            db.session.flush()
            status = int(request.args.get("status", 201))
            if request.args.get("explode"):
                raise RuntimeError("boom")
            if status >= 400:
                abort(status)
            return jsonify(ok=True), status


        @celery.task(name="add_house")
        def add_house_task(address, fail=False):
            db.session.add({prefix}House(address=address))
            db.session.flush()
            if fail:
                raise ValueError("task failed on purpose")
            return count()


        @celery.task(name="count_houses")
        def count_task():
            return count()
    """


@pytest.fixture
def isolated() -> Iterator[None]:
    """Put back what starting projects changes in the process."""
    with process_state_restored():
        yield


def terminate_backends(url: str, pid: int | None = None) -> int:
    """Terminate every other backend of the database at `url` (or only `pid`) and wait until
    they are gone: what a restart or an operator's `pg_terminate_backend` does to the pool's
    connections. Returns how many were terminated."""
    import sqlalchemy as sa
    from sqlalchemy import text

    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with admin.connect() as connection:
            only = "" if pid is None else f" AND pid = {int(pid)}"
            return connection.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                    f"WHERE datname = current_database() AND pid <> pg_backend_pid(){only}"
                )
            ).scalar_one()
    finally:
        admin.dispose()


def invoke(cfg: Path | str | None, *args: str, **kwargs: Any) -> Any:
    """Run `flasker [-c cfg] ARGS` through click's runner, as a fresh process would: the
    project modules it imports and the project it starts are forgotten afterwards."""
    from click.testing import CliRunner

    from flasker.cli import cli

    options = ["-c", str(cfg)] if cfg is not None else []
    with process_state_restored():
        return CliRunner().invoke(cli, [*options, *args], **kwargs)


@pytest.fixture
def make_project(isolated: None, tmp_path: Path) -> Iterator[Callable[..., Project]]:
    """Factory: `make_project(cfg, modules, start=True)` writes a project and builds it; every
    project made is closed after the test."""
    made: list[Project] = []

    def make(
        cfg: str,
        modules: Mapping[str, str] | None = None,
        *,
        start: bool = True,
        folder: Path | None = None,
    ) -> Project:
        path = write_project(folder or tmp_path, cfg, modules)
        project = Project(path)
        made.append(project)
        if start:
            project.start()
        return project

    try:
        yield make
    finally:
        for project in made:
            close_project(project)


def flasker_command(cfg: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "flasker", "-c", str(cfg), *args]
