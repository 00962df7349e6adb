"""Celery's task events as facts: the `flasker_console_task_events` table, parsing, storing.

Each row is one fact a worker reported (task id, state, when), unique per (task id, state) and
written insert-or-ignore, so several listening processes (gunicorn workers each run the
console) store each fact once. The table is core's `Model` (`__api__ = False`), mapped and
created on first use like the console's other tables; rows older than `KEEP` are purged.
The listener (events.py) feeds it; the overview's chart (event_chart.py) reads it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ._lazy_table import LazyTable

if TYPE_CHECKING:
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
#: How long rows are kept (the chart shows one hour; a day leaves room for later pages).
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
            UniqueConstraint("task_id", "state", name=f"uq_{EVENTS_TABLE}_task_state"),
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
    task_id: str
    state: str
    at: datetime
    name: str | None = None
    hostname: str | None = None


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
    )


def _insert_new_only(dialect: str, table: Any) -> Executable:
    """INSERT … ON CONFLICT DO NOTHING on (task_id, state), in PostgreSQL's or SQLite's words."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table).on_conflict_do_nothing(index_elements=["task_id", "state"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=["task_id", "state"])


def store(project: Project, events: Iterable[TaskEvent]) -> None:
    """Insert the facts, ignoring those already stored (by this process or another one)."""
    unique: dict[tuple[str, str], TaskEvent] = {}
    for event in events:
        unique.setdefault((event.task_id, event.state), event)
    if not unique:
        return
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
    with engine.begin() as connection:
        if dialect in ("postgresql", "sqlite"):
            connection.execute(_insert_new_only(dialect, table), rows)
        elif dialect in ("mysql", "mariadb"):
            connection.execute(table.insert().prefix_with("IGNORE"), rows)
        else:  # any other database: one row at a time, a duplicate rolled back alone
            for row in rows:
                try:
                    with connection.begin_nested():
                        connection.execute(table.insert(), row)
                except IntegrityError:
                    pass


def purge(project: Project, keep: timedelta = KEEP, now: datetime | None = None) -> int:
    """Delete rows older than `keep`; return how many."""
    model = ensure_table(project)
    oldest = minute_of((now or utcnow()) - keep)
    with project.db.engine.begin() as connection:
        result = connection.execute(delete(model.__table__).where(model.minute < oldest))
    return int(result.rowcount or 0)
