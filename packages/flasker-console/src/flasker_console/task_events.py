"""Celery's task events as facts: the `flasker_console_task_events` table, parsing, storing.

Each row is one fact a worker reported (task id, state, when), unique per (task id, state,
time) and written insert-or-ignore, so several listening processes (gunicorn workers each run
the console) store each fact once; `store` returns the facts this process was first to write,
and only those go on to the task history (task_history.py), so its writes do not multiply
with the processes either. A retried task reports RECEIVED and STARTED again, at later times:
each is a fact of its own. The table is core's `Model` (`__api__ = False`), mapped and
created on first use like the console's other tables; rows older than `KEEP` are purged.
The listener (events.py) feeds it; the overview's chart (event_chart.py) reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ._lazy_table import LazyTable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql.expression import Executable

    from flasker.project import Project

EVENTS_TABLE = "flasker_console_task_events"
#: Celery's task event types, and the state each one stores.
TASK_STATES = {
    "task-received": "RECEIVED",
    "task-started": "STARTED",
    "task-succeeded": "SUCCESS",
    "task-failed": "FAILURE",
    "task-retried": "RETRY",
    "task-revoked": "REVOKED",
}
#: How long rows are kept (the chart shows one hour, /metrics counts a day; the task history
#: keeps its own rows, for `[CONSOLE] TASK_HISTORY_DAYS`).
KEEP = timedelta(hours=24)


def utcnow() -> datetime:
    return datetime.now(UTC)


def minute_of(moment: datetime | float) -> int:
    """Minutes since the epoch: the chart's bucket, stored on each row so that grouping by
    minute is the same plain integer GROUP BY on every database."""
    seconds = moment.timestamp() if isinstance(moment, datetime) else moment
    return int(seconds // 60)


class TaskEventRecord:
    """One fact a worker reported about a task: it reached `state` at `at`."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))  # only task-received carries it
    hostname: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    minute: Mapped[int] = mapped_column(Integer, nullable=False)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        """New constraint objects for each mapping (a test suite may map the class again)."""
        return (
            UniqueConstraint("task_id", "state", "at", name=f"uq_{EVENTS_TABLE}_task_state_at"),
            Index(f"ix_{EVENTS_TABLE}_minute_state", "minute", "state"),
        )


_TABLE = LazyTable(EVENTS_TABLE, TaskEventRecord, "ConsoleTaskEvent", __name__, "task events")


def event_model() -> Any:
    """The `ConsoleTaskEvent` model, mapped on core's `Model` on first use."""
    return _TABLE.model()


def ensure_table(project: Project) -> Any:
    """Create the table when missing (once per engine and mapping); return the model."""
    return _TABLE.ensure(project)


# -- events as facts ------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskEvent:
    """One fact; `details` holds what the event said beyond it (args, result, traceback...:
    the fields of `DETAIL_FIELDS`), for the task history."""

    task_id: str
    state: str
    at: datetime
    name: str | None = None
    hostname: str | None = None
    details: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> tuple[str, str, float]:
        return self.task_id, self.state, self.at.timestamp()


#: The event fields the task history keeps (Celery's names; args, kwargs and result are the
#: worker's shortened repr text, exception and traceback are text too).
DETAIL_FIELDS = (
    "args",
    "kwargs",
    "result",
    "exception",
    "traceback",
    "runtime",
    "retries",
    "parent_id",
    "root_id",
)


def task_event(event: dict[str, Any]) -> TaskEvent | None:
    """The fact a Celery task event reports, or None for other events (or a malformed one)."""
    state = TASK_STATES.get(str(event.get("type")))
    task_id = event.get("uuid")
    if state is None or not isinstance(task_id, str) or not task_id:
        return None
    try:
        at = datetime.fromtimestamp(float(event["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        at = utcnow()
    name = event.get("name")
    hostname = event.get("hostname")
    return TaskEvent(
        task_id[:64],
        state,
        at,
        str(name)[:255] if name else None,
        str(hostname)[:255] if hostname else None,
        tuple((f, event[f]) for f in DETAIL_FIELDS if event.get(f) is not None),
    )


def _insert_new_only(dialect: str, table: Any) -> Executable:
    """INSERT … ON CONFLICT DO NOTHING RETURNING the rows written, in PostgreSQL's or SQLite's
    words. No conflict target: a table made by an older version, unique on (task_id, state)
    only, keeps working."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = (postgresql if dialect == "postgresql" else sqlite).insert
    statement: Executable = (
        insert(table).on_conflict_do_nothing().returning(table.c.task_id, table.c.state, table.c.at)
    )
    return statement


def _seconds(at: datetime) -> float:
    """A stored time as epoch seconds (SQLite gives naive UTC back)."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def store(
    project: Project,
    events: Iterable[TaskEvent],
    then: Callable[[Connection, list[TaskEvent]], Any] | None = None,
) -> list[TaskEvent]:
    """Insert the facts, ignoring those already stored (by this process or another one);
    return the facts this call wrote (on MySQL/MariaDB, which cannot say, all of them: the
    history's writes are idempotent, only repeated).

    `then(connection, written)` runs in the same transaction (the task history's upsert), so
    a fact is never stored without what follows from it: both are written, or neither."""
    unique: dict[tuple[str, str, float], TaskEvent] = {}
    for event in events:
        unique.setdefault(event.key, event)
    if not unique:
        return []
    table = ensure_table(project).__table__
    rows = [
        {
            "task_id": e.task_id,
            "state": e.state,
            "name": e.name,
            "hostname": e.hostname,
            "at": e.at,
            "minute": minute_of(e.at),
        }
        for e in unique.values()
    ]
    engine = project.db.engine
    dialect = engine.dialect.name
    written: list[TaskEvent] = []
    with engine.begin() as connection:
        if dialect in ("postgresql", "sqlite"):
            result = connection.execute(_insert_new_only(dialect, table), rows)
            keys = {(r.task_id, r.state, _seconds(r.at)) for r in result}
            written = [e for e in unique.values() if (e.task_id, e.state, _seconds(e.at)) in keys]
        elif dialect in ("mysql", "mariadb"):
            connection.execute(table.insert().prefix_with("IGNORE"), rows)
            written = list(unique.values())
        else:  # any other database: one row at a time, a duplicate rolled back alone
            for event, row in zip(unique.values(), rows, strict=True):
                try:
                    with connection.begin_nested():
                        connection.execute(table.insert(), row)
                    written.append(event)
                except IntegrityError:
                    pass
        if then is not None and written:
            then(connection, written)
    return written


def purge(project: Project, keep: timedelta = KEEP, now: datetime | None = None) -> int:
    """Delete rows older than `keep`; return how many."""
    return purge_minutes(project, ensure_table(project), keep, now)


def purge_minutes(project: Project, table: Any, keep: timedelta, now: datetime | None) -> int:
    """Delete the rows of `table` (a console table, Core or mapped, with a `minute` column as
    `minute_of` gives) older than `keep`; return how many."""
    table = getattr(table, "__table__", table)
    oldest = minute_of((now or utcnow()) - keep)
    with project.db.engine.begin() as connection:
        result = connection.execute(delete(table).where(table.c.minute < oldest))
    return int(result.rowcount or 0)
