"""The project's database: engine, sessions and the session's life cycle.

`db.session` is a scoped session: one session per thread, removed when the request's or the
task's app context ends. With `[PROJECT] AUTOCOMMIT` on (the default, flasker 0.1's
SMARTCOMMIT) a request that answers below 400, or a task that returns, commits it; anything else
rolls back. Commit happens before the response is sent, so a failed commit is a failed request
and never a silent loss.

A database that cannot answer for a while (restarted, its backends terminated, the network cut)
is not a bug: `unavailable_error` tells such errors apart, requests answer them with 503 and
`Retry-After`, and the pool replaces the broken connections by itself (`pool_pre_ping` is on
for server databases, and a lost connection invalidates the others opened before it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from .config import Config
from .exceptions import DatabaseUnavailableError
from .model import Model

logger = logging.getLogger(__name__)

#: PostgreSQL's SQLSTATEs (besides class 08, connection exceptions) that mean "not now": the
#: server shut the backend down or is starting, or has no connection slot left.
_TRANSIENT_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


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
        self._commits = threading.local()
        event.listen(self.engine, "commit", self._count_commit)

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

    def commits_started(self) -> int:
        """How many COMMITs this thread has begun, through the session or the engine.

        A request notes it when it starts: if the database fails later and the count has not
        moved, nothing of the request can be stored (see `unavailable_error`)."""
        return getattr(self._commits, "count", 0)

    def _count_commit(self, _connection: Any) -> None:
        self._commits.count = getattr(self._commits, "count", 0) + 1

    def dispose(self) -> None:
        """Close the pool's connections (after a fork, or when the project closes)."""
        self.remove()
        self.engine.dispose()


def error_line(error: BaseException, limit: int = 300) -> str:
    """A database error as one line: the driver's first line, without SQLAlchemy's wrapping.

    SQLAlchemy's text repeats the statement and a link on further lines, and a page or a log
    line wants what the database said; `limit` keeps a driver's long first line readable. An
    error with no text is named by its type.
    """
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return lines[0][:limit] if lines else type(original).__name__


def is_unavailable(error: BaseException) -> bool:
    """Is `error` the database being unreachable for now, which waiting cures, rather than a bug
    or a refused change?

    Yes for a connection the driver found lost (`connection_invalidated`), a connection refused
    or closed on the client side (a driver error with no SQLSTATE), PostgreSQL's connection
    exceptions (class 08), shut-down backends (57P01-57P03) and full slots (53300), a SQLite
    database still locked after its busy timeout, and a pool with no connection free in time.
    """
    if isinstance(error, sa_exc.TimeoutError):  # QueuePool: no connection free in time
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    original = error.orig
    name = getattr(original, "sqlite_errorname", None)
    if name is not None:
        return str(name).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    for attribute in ("sqlstate", "pgcode"):  # psycopg 3, psycopg2
        if hasattr(original, attribute):
            state = getattr(original, attribute)
            if state is None:  # raised by the client: the connection failed or was closed
                return isinstance(error, sa_exc.OperationalError)
            return str(state).startswith("08") or state in _TRANSIENT_SQLSTATES
    return False


def unavailable_error(
    error: BaseException, *, may_be_stored: bool = False
) -> DatabaseUnavailableError | None:
    """The `DatabaseUnavailableError` (503) to answer for `error`, or None when `error` is not
    the database being unavailable (see `is_unavailable`).

    The reason is a category, never the driver's text: that names hosts and ports."""
    if not is_unavailable(error):
        return None
    if isinstance(error, sa_exc.TimeoutError):
        reason = "no database connection was free in time"
    elif getattr(getattr(error, "orig", None), "sqlite_errorname", None) is not None:
        reason = "the database is locked by another writer"
    elif isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        reason = "the connection to it was lost"
    else:
        reason = "it refused or closed the connection"
    return DatabaseUnavailableError(reason, may_be_stored=may_be_stored)


def explicit_key(table: Any, values: Mapping[str, Any]) -> tuple[Any, int] | None:
    """(the column, its value) when `values` (by column key) give a value of their own to
    `table`'s single integer primary key that the database would otherwise number; else None."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        return None
    column = columns[0]
    value = values.get(column.key)
    if type(value) is not int or column is not table.autoincrement_column:
        return None
    return column, value


def advance_sequence(connection: Connection, column: Any, value: int) -> None:
    """After a row was written with an explicit `value` for `column` (an autoincrementing
    key), make the database's next number higher, so the next insert without one does not
    collide (PostgreSQL's sequences do not move for explicit values; SQLite and MySQL take
    the maximum themselves).

    Never moves a sequence back, and runs in a savepoint: a role that may not alter the
    sequence leaves it as it was (logged) and the insert stands."""
    if connection.dialect.name != "postgresql":
        return
    table = column.table
    name = connection.dialect.identifier_preparer.format_table(table)
    statement = text(
        "SELECT setval(s, GREATEST(:value, COALESCE(pg_sequence_last_value(s), 0))) "
        "FROM (SELECT pg_get_serial_sequence(:table, :column)::regclass AS s) AS seq "
        "WHERE s IS NOT NULL"
    )
    try:
        with connection.begin_nested():
            connection.execute(statement, {"value": value, "table": name, "column": column.name})
    except sa_exc.DBAPIError as error:
        if is_unavailable(error):
            raise
        logger.warning("could not advance the sequence of %s.%s: %s", name, column.name, error)


def _build_engine(config: Config) -> Engine:
    options: dict[str, Any] = dict(config.engine)
    try:
        url = make_url(config.db_url)
    except ArgumentError as error:
        raise config.error("PROJECT", "DB_URL", f"not a database URL: {error}") from None
    if url.get_backend_name() == "sqlite":
        url = _sqlite_relative_to_project(config, url)
    else:
        # A server database may drop connections while they wait in the pool (a restart, an
        # idle timeout, a terminated backend): test each one as it is checked out (one empty
        # round trip) instead of failing the request that gets it. [ENGINE] can turn it off.
        options.setdefault("pool_pre_ping", True)
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
