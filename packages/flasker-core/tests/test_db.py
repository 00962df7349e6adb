"""`project.db`: the engine from DB_URL and [ENGINE], the scoped session and its life cycle."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy import select, text

from flasker import ConfigError

from ._project_helpers import models_source, terminate_backends, unique


def _project(make_project, extra: str = "", engine: str = "", start: bool = True):
    module = unique("dbmod")
    cfg = f"[PROJECT]\nMODULES = {module}\n{extra}\n"
    if engine:
        cfg += f"[ENGINE]\n{engine}\n"
    project = make_project(cfg, {module: models_source()}, start=start)
    return project, sys.modules.get(module)


def test_default_database_is_sqlite_beside_the_cfg(make_project, tmp_path: Path) -> None:
    project, _ = _project(make_project)
    assert project.db.engine.dialect.name == "sqlite"
    assert (tmp_path / "db.sqlite").is_file()


def test_relative_sqlite_url_is_relative_to_the_cfg(make_project, tmp_path, monkeypatch) -> None:
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    project, _ = _project(make_project, "DB_URL = sqlite:///data/app.sqlite")
    assert Path(project.db.engine.url.database) == tmp_path / "data" / "app.sqlite"
    assert (tmp_path / "data" / "app.sqlite").is_file()
    assert not (tmp_path / "data" / "data").exists()


def test_sqlite_folder_that_does_not_exist_is_a_config_error(make_project, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"default.cfg:3: \[PROJECT\] DB_URL: folder .*nope"):
        _project(make_project, "DB_URL = sqlite:///nope/app.sqlite")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("not a url", "not a database URL"),
        ("nosuchdialect://x", "unknown database dialect"),
    ],
)
def test_bad_db_url_is_a_config_error(make_project, url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=rf"DB_URL: {problem}"):
        _project(make_project, f"DB_URL = {url}")


def test_engine_section_reaches_create_engine(make_project) -> None:
    project, _ = _project(make_project, engine="ECHO = false\npool_pre_ping = true")
    assert project.db.engine.pool._pre_ping is True
    assert project.db.engine.echo is False


def test_unknown_engine_option_names_the_key_and_line(make_project) -> None:
    with pytest.raises(ConfigError) as raised:
        _project(make_project, engine="echo = false\nno_such_option = 3")
    assert raised.value.section == "ENGINE"
    assert raised.value.key == "no_such_option"
    assert raised.value.line == 6
    assert "create_engine refused it" in str(raised.value)


def test_sqlite_connections_use_wal_and_foreign_keys(make_project) -> None:
    project, module = _project(make_project)
    with project.db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    # a cat pointing at a house that does not exist is refused
    session = project.db.Session()
    session.add(module.Cat(name="stray", house_id=999))
    with pytest.raises(Exception, match="FOREIGN KEY"):
        session.commit()
    session.close()


def test_create_all_returns_the_tables_it_created(make_project) -> None:
    project, _ = _project(make_project, "CREATE_TABLES = false")
    assert sorted(project.db.create_all()) == ["cats", "houses"]
    assert project.db.create_all() == []
    project.db.drop_all()
    assert sorted(project.db.create_all()) == ["cats", "houses"]


def test_ping_answers_and_fails_on_a_dead_server(make_project) -> None:
    project, _ = _project(make_project)
    project.db.ping()
    dead = make_project(
        "[PROJECT]\nDB_URL = postgresql+psycopg://u@127.0.0.1:1/x?connect_timeout=2\n",
        start=False,
        folder=project.folder / "dead",
    )
    with pytest.raises(Exception, match=r"refused|failed"):
        dead.db.ping()


def test_finish_commits_or_rolls_back_and_remove_drops_the_session(make_project) -> None:
    project, module = _project(make_project)
    db = project.db
    db.finish(success=True)  # nothing open: a no-op
    assert not db.session.registry.has()
    db.session.add(module.House(address="kept"))
    db.finish(success=True)
    db.session.add(module.House(address="dropped"))
    db.finish(success=False)
    db.remove()
    assert not db.session.registry.has()
    with db.Session() as session:
        assert session.scalars(select(module.House.address)).all() == ["kept"]


def test_finish_without_autocommit_rolls_back(make_project) -> None:
    project, module = _project(make_project, "AUTOCOMMIT = no")
    project.db.session.add(module.House(address="x"))
    project.db.finish(success=True)
    with project.db.Session() as session:
        assert session.scalars(select(module.House)).all() == []


def test_session_is_one_per_thread(make_project) -> None:
    import threading

    project, _ = _project(make_project)
    sessions = []

    def use() -> None:
        sessions.append(project.db.session())
        project.db.remove()

    threads = [threading.Thread(target=use) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sessions.append(project.db.session())
    assert len({id(s) for s in sessions}) == 4


def test_close_disposes_the_pool(make_project) -> None:
    project, _ = _project(make_project)
    with project.db.engine.connect():
        pass
    assert project.db.engine.pool.checkedin() == 1
    project.close()
    assert project.db.engine.pool.checkedin() == 0


@pytest.mark.postgres
def test_postgresql_database(make_project, postgres_url) -> None:
    project, module = _project(make_project, f"DB_URL = {postgres_url}")
    with project.app.app_context():
        project.db.session.add(module.House(address="pg"))
        project.db.finish(success=True)
    with project.db.Session() as session:
        assert session.scalars(select(module.House.address)).all() == ["pg"]


# -- a database that cannot answer for a while ----------------------------------------------------
def _error_of(engine, statement: str) -> BaseException:
    import sqlalchemy as sa

    with pytest.raises(sa.exc.SQLAlchemyError) as caught, engine.begin() as connection:
        connection.execute(text(statement))
    return caught.value


@pytest.mark.postgres
@pytest.mark.faults
def test_a_terminated_backend_is_unavailable_and_a_bad_statement_is_not(
    make_project, postgres_url
) -> None:
    from flasker.db import is_unavailable, unavailable_error

    project, _ = _project(make_project, f"DB_URL = {postgres_url}", "pool_pre_ping = false")
    engine = project.db.engine
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert terminate_backends(postgres_url) == 1
    lost = _error_of(engine, "SELECT count(*) FROM houses")
    assert is_unavailable(lost), lost
    error = unavailable_error(lost)
    assert error is not None
    assert error.code == 503
    assert dict(error.http_exception().get_headers())["Retry-After"] == "5"
    assert "connection to it was lost" in error.description
    assert "5432" not in error.description  # never the driver's text: it names the server
    # the pool recovered by itself: the next statement works
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM houses")).scalar() == 0
    # bugs and refused changes are not "unavailable"
    for statement in ["SELECT nope FROM houses", "INSERT INTO houses (address) VALUES (NULL)"]:
        error = _error_of(engine, statement)
        assert not is_unavailable(error), error
        assert unavailable_error(error) is None


@pytest.mark.postgres
def test_a_full_pool_and_a_refused_connection_are_unavailable(make_project, postgres_url) -> None:
    import sqlalchemy as sa

    from flasker.db import is_unavailable

    engine = sa.create_engine(postgres_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    try:
        with engine.connect(), pytest.raises(sa.exc.TimeoutError) as full:
            engine.connect()
    finally:
        engine.dispose()
    assert is_unavailable(full.value)
    dead = sa.create_engine("postgresql+psycopg://u@127.0.0.1:1/x?connect_timeout=2")
    try:
        refused = _error_of(dead, "SELECT 1")
    finally:
        dead.dispose()
    assert isinstance(refused, sa.exc.OperationalError)
    assert is_unavailable(refused)


def test_a_locked_sqlite_database_is_unavailable_a_missing_table_is_not(tmp_path) -> None:
    import sqlalchemy as sa

    from flasker.db import is_unavailable, unavailable_error

    url = f"sqlite:///{tmp_path / 'locked.sqlite'}"
    engine = sa.create_engine(url, connect_args={"timeout": 0.05}, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (x INTEGER)"))
        with engine.connect() as writer:
            writer.exec_driver_sql("BEGIN IMMEDIATE")
            writer.exec_driver_sql("INSERT INTO t VALUES (1)")
            locked = _error_of(engine, "INSERT INTO t VALUES (2)")
            writer.rollback()
        missing = _error_of(engine, "SELECT * FROM nope")
    finally:
        engine.dispose()
    assert is_unavailable(locked), locked
    error = unavailable_error(locked)
    assert error is not None
    assert "locked" in error.description
    assert not is_unavailable(missing), missing


@pytest.mark.postgres
def test_pool_pre_ping_is_on_for_server_databases_unless_the_cfg_says(
    make_project, postgres_url
) -> None:
    on, _ = _project(make_project, f"DB_URL = {postgres_url}")
    assert on.db.engine.pool._pre_ping is True
    off = make_project(
        f"[PROJECT]\nDB_URL = {postgres_url}\n[ENGINE]\npool_pre_ping = false\n",
        start=False,
        folder=on.folder / "off",
    )
    assert off.db.engine.pool._pre_ping is False
    sqlite, _ = _project(make_project, start=False)
    assert sqlite.db.engine.pool._pre_ping is False


@pytest.mark.postgres
@pytest.mark.faults
def test_pre_ping_replaces_a_pooled_connection_whose_backend_died(
    make_project, postgres_url
) -> None:
    project, _ = _project(make_project, f"DB_URL = {postgres_url}")
    project.db.ping()
    assert project.db.engine.pool.checkedin() == 1
    assert terminate_backends(postgres_url) == 1
    project.db.ping()  # no error: the dead connection was tested and replaced at checkout


def test_commits_started_counts_this_threads_commits(make_project) -> None:
    import threading

    project, module = _project(make_project)
    db = project.db
    before = db.commits_started()
    with db.engine.begin() as connection:
        connection.execute(text("SELECT 1"))
    db.session.add(module.House(address="x"))
    db.finish(success=True)
    db.session.add(module.House(address="y"))
    db.finish(success=False)  # a rollback is no commit
    assert db.commits_started() == before + 2
    others: list[int] = []
    thread = threading.Thread(target=lambda: others.append(db.commits_started()))
    thread.start()
    thread.join()
    assert others == [0]
