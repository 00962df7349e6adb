"""The project's database: engine, sessions and the session's life cycle.

`db.session` is a scoped session: one session per thread, removed when the request's or the
task's app context ends. With `[PROJECT] AUTOCOMMIT` on (the default, flasker 0.1's
SMARTCOMMIT) a request that answers below 400, or a task that returns, commits it; anything else
rolls back. Commit happens before the response is sent, so a failed commit is a failed request
and never a silent loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from .config import Config
from .model import Model


class Database:
    """Engine, session factory and scoped session of one project.

    Built from the cfg (`DB_URL`, `[ENGINE]`); available as `project.db`::

        db = current_project.db
        db.session.add(House(address="1 Main St"))
        db.session.commit()
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.url = config.db_url
        self.engine: Engine = _build_engine(config)
        self.Session = sessionmaker(bind=self.engine)
        self.session: scoped_session[Session] = scoped_session(self.Session)
        self.Model = Model

    # -- schema ----------------------------------------------------------------------------
    def create_all(self) -> list[str]:
        """Create every missing table; return the names created."""
        existing = set(inspect(self.engine).get_table_names())
        Model.metadata.create_all(self.engine)
        return [name for name in Model.metadata.tables if name not in existing]

    def drop_all(self) -> None:
        Model.metadata.drop_all(self.engine)

    def ping(self) -> None:
        """Open a connection and run a trivial query; raise when the database cannot answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    # -- the session's life cycle ----------------------------------------------------------
    def finish(self, success: bool) -> None:
        """End a unit of work: commit on success when AUTOCOMMIT is on, else roll back."""
        if not self.session.registry.has():
            return
        if success and self.config.autocommit:
            self.session.commit()
        else:
            self.session.rollback()

    def remove(self) -> None:
        self.session.remove()

    def dispose(self) -> None:
        """Close the pool's connections (after a fork, or when the project closes)."""
        self.remove()
        self.engine.dispose()


def _build_engine(config: Config) -> Engine:
    options: dict[str, Any] = dict(config.engine)
    try:
        url = make_url(config.db_url)
    except ArgumentError as error:
        raise config.error("PROJECT", "DB_URL", f"not a database URL: {error}") from None
    if url.get_backend_name() == "sqlite":
        url = _sqlite_relative_to_project(config, url)
    try:
        engine = create_engine(url, **options)
    except TypeError as error:
        bad = _bad_engine_option(str(error), options)
        raise config.error("ENGINE", bad or "", f"create_engine refused it: {error}") from None
    except NoSuchModuleError as error:
        raise config.error("PROJECT", "DB_URL", f"unknown database dialect: {error}") from None
    except ModuleNotFoundError as error:
        raise config.error(
            "PROJECT",
            "DB_URL",
            f"the database driver {error.name!r} is not installed (pip install it, e.g. "
            "flasker-core[postgres] for PostgreSQL)",
        ) from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_relative_to_project(config: Config, url: URL) -> URL:
    """A relative SQLite path is relative to the cfg file, wherever the command runs from."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return url
    path = config.folder / database
    if not path.parent.is_dir():
        raise config.error(
            "PROJECT", "DB_URL", f"folder {path.parent} of the SQLite file does not exist"
        )
    return url.set(database=str(path))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL and a busy timeout, so the server and the embedded worker can write at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _bad_engine_option(message: str, options: Mapping[str, Any]) -> str | None:
    for key in options:
        if f"'{key}'" in message:
            return key
    return None
