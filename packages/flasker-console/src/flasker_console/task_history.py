"""Every task heard on the event stream, one row each: the `flasker_console_task_history` table.

Flower keeps what it hears in memory and forgets it when it restarts; the console keeps one
row per task id in the project's database, so the task list and a task's page survive a
restart. A row is what the events said about the task: its name, args and kwargs (the worker's
shortened repr text), the worker, when it was received, started and finished, its runtime and
retries, its result or exception with traceback, its parent and root.

Written by the events listener (events.py) from the facts it was first to store
(task_events.store), so several listening processes (gunicorn) do not each write the same
update; the upsert is also idempotent, so a fact applied twice changes nothing. The state is
the one of the latest event (by the worker's timestamp): a late STARTED never undoes an end,
and a retried task's new RECEIVED moves it on again. Rows not heard of for
`[CONSOLE] TASK_HISTORY_DAYS` are purged by the listener.

The list and its filters: task_search.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
    case,
    delete,
    func,
    select,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ._lazy_table import LazyTable
from .task_events import TaskEvent, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from flasker.project import Project

HISTORY_TABLE = "flasker_console_task_history"
#: Days a task is kept after its last event (`[CONSOLE] TASK_HISTORY_DAYS`).
KEEP_DAYS = 7.0
#: States after which a task does not change (but for a retry sent again).
FINAL_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
#: Longest text kept of args, kwargs, result, exception (Celery already shortens them) and
#: traceback.
MAX_TEXT = 4000
#: The columns a task's first fact may leave empty.
_FILLED = (
    "name",
    "received_at",
    "started_at",
    "finished_at",
    "runtime",
    "hostname",
    "args",
    "kwargs",
    "result",
    "exception",
    "traceback",
    "parent_id",
    "root_id",
)
#: Which event time each state sets.
_TIMES = {"RECEIVED": "received_at", "STARTED": "started_at"}


def _clip(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


class TaskHistoryRecord:
    """One task heard on the event stream, as its events described it."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    #: When the current state was reached (the worker's clock).
    state_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: The first event heard: the list's order ("newest first").
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    #: The last event heard: what retention counts from.
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    runtime: Mapped[float | None] = mapped_column(Float)
    retries: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hostname: Mapped[str | None] = mapped_column(String(255))
    args: Mapped[str | None] = mapped_column(Text)
    kwargs: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    exception: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(String(64))
    root_id: Mapped[str | None] = mapped_column(String(64))

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        """The list's orders and filters each have an index ending in its order."""
        t = HISTORY_TABLE
        return (
            Index(f"ix_{t}_first", "first_at", "id"),
            Index(f"ix_{t}_name_first", "name", "first_at", "id"),
            Index(f"ix_{t}_state_first", "state", "first_at", "id"),
            Index(f"ix_{t}_host_first", "hostname", "first_at", "id"),
            Index(f"ix_{t}_parent", "parent_id"),
            Index(f"ix_{t}_last", "last_at"),
        )

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def took(self) -> float | None:
        """Seconds the last run took: the worker's runtime (sent on success), else from the
        started and finished times (a failure's event has no runtime)."""
        if self.runtime is not None:
            return self.runtime
        if self.started_at is not None and self.finished_at is not None:
            return max((self.finished_at - self.started_at).total_seconds(), 0.0)
        return None

    @property
    def call(self) -> str:
        """`name(args, kwargs)` as the worker reported them (repr text)."""
        args = (self.args or "()").strip()
        inner = args[1:-1].rstrip(",") if args[:1] in "([" and args[-1:] in ")]" else args
        kwargs = (self.kwargs or "{}").strip()
        parts = [p for p in (inner, "" if kwargs == "{}" else f"**{kwargs}") if p]
        return f"{self.name or '?'}({', '.join(parts)})"


_TABLE = LazyTable(
    HISTORY_TABLE, TaskHistoryRecord, "ConsoleTaskHistory", __name__, "the task history"
)


def history_model() -> Any:
    """The `ConsoleTaskHistory` model, mapped on core's `Model` on first use."""
    return _TABLE.model()


def ensure_table(project: Project) -> Any:
    """Create the table when missing (once per engine and mapping); return the model."""
    return _TABLE.ensure(project)


# -- from facts to rows -----------------------------------------------------------------------
def _as_utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def merge(facts: Iterable[TaskEvent]) -> dict[str, dict[str, Any]]:
    """The row values each task's facts give, task by task (facts in any order)."""
    rows: dict[str, dict[str, Any]] = {}
    for fact in sorted(facts, key=lambda f: f.at):
        row = rows.get(fact.task_id)
        if row is None:
            row = rows[fact.task_id] = {
                "task_id": fact.task_id,
                "first_at": fact.at,
                "retries": 0,
                **dict.fromkeys(_FILLED),
            }
        row["state"], row["state_at"], row["last_at"] = fact.state, fact.at, fact.at
        row["name"] = fact.name or row["name"]
        row["hostname"] = fact.hostname or row["hostname"]
        if fact.state in _TIMES:
            row[_TIMES[fact.state]] = row[_TIMES[fact.state]] or fact.at
        if fact.state == "STARTED":
            row["started_at"] = fact.at  # a retry's start: the runtime is the last run's
        if fact.state in FINAL_STATES:
            row["finished_at"] = fact.at
        details = dict(fact.details)
        for field in ("args", "kwargs", "result", "exception", "traceback", "parent_id", "root_id"):
            if details.get(field) is not None:
                limit = 64 if field.endswith("_id") else MAX_TEXT
                row[field] = (_clip(details[field]) or "")[:limit]
        if isinstance(details.get("runtime"), int | float):
            row["runtime"] = float(details["runtime"])
        if isinstance(details.get("retries"), int):
            row["retries"] = max(row["retries"], details["retries"])
        if fact.state == "RETRY":
            row["retries"] = max(row["retries"], 1)
    return rows


def _upsert(dialect: str, table: Any) -> Any:
    """INSERT … ON CONFLICT (task_id) DO UPDATE: the later state wins, the first time stays,
    what a batch did not say is kept (PostgreSQL's and SQLite's words)."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = (postgresql if dialect == "postgresql" else sqlite).insert
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    later = new.state_at >= old.state_at

    def newer_first(column: str) -> Any:
        return func.coalesce(getattr(new, column), getattr(old, column))

    def older_first(column: str) -> Any:
        return func.coalesce(getattr(old, column), getattr(new, column))

    return stmt.on_conflict_do_update(
        index_elements=["task_id"],
        set_={
            "state": case((later, new.state), else_=old.state),
            "state_at": case((later, new.state_at), else_=old.state_at),
            "first_at": case((new.first_at < old.first_at, new.first_at), else_=old.first_at),
            "last_at": case((new.last_at > old.last_at, new.last_at), else_=old.last_at),
            "retries": case((new.retries > old.retries, new.retries), else_=old.retries),
            "received_at": older_first("received_at"),
            "name": older_first("name"),
            "args": older_first("args"),
            "kwargs": older_first("kwargs"),
            "parent_id": older_first("parent_id"),
            "root_id": older_first("root_id"),
            **{
                column: newer_first(column)
                for column in (
                    "started_at",
                    "finished_at",
                    "runtime",
                    "hostname",
                    "result",
                    "exception",
                    "traceback",
                )
            },
        },
    )


def recorder(project: Project) -> Callable[[Connection, Iterable[TaskEvent]], int]:
    """`record` for `task_events.store(..., then=)`: the table is made first, outside the
    transaction that stores the facts."""
    table = ensure_table(project).__table__

    def record_on(connection: Connection, facts: Iterable[TaskEvent]) -> int:
        return record(connection, table, facts)

    return record_on


def record(connection: Connection, table: Any, facts: Iterable[TaskEvent]) -> int:
    """Apply the facts to the history (one upsert for all tasks); return how many tasks."""
    rows = merge(facts)
    if not rows:
        return 0
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        connection.execute(_upsert(dialect, table), list(rows.values()))
    else:  # any other database: read, then insert or update, row by row
        _record_portably(connection, table, rows)
    return len(rows)


def _record_portably(connection: Any, table: Any, rows: dict[str, dict[str, Any]]) -> None:
    found = {
        r.task_id: r._asdict()
        for r in connection.execute(select(table).where(table.c.task_id.in_(list(rows))))
    }
    for task_id, row in rows.items():
        old = found.get(task_id)
        if old is None:
            connection.execute(table.insert(), row)
            continue
        merged = {k: (v if v is not None else old[k]) for k, v in row.items()}
        if _as_utc(old["state_at"]) > row["state_at"]:
            merged["state"], merged["state_at"] = old["state"], old["state_at"]
        for column in ("received_at", "name", "args", "kwargs", "parent_id", "root_id"):
            merged[column] = old[column] if old[column] is not None else row[column]
        merged["first_at"] = min(_as_utc(old["first_at"]), row["first_at"])
        merged["last_at"] = max(_as_utc(old["last_at"]), row["last_at"])
        merged["retries"] = max(old["retries"], row["retries"])
        connection.execute(table.update().where(table.c.task_id == task_id).values(merged))


def purge(project: Project, days: float = KEEP_DAYS, now: datetime | None = None) -> int:
    """Delete the tasks not heard of for `days`; return how many."""
    model = ensure_table(project)
    oldest = (now or utcnow()) - timedelta(days=days)
    with project.db.engine.begin() as connection:
        result = connection.execute(delete(model.__table__).where(model.last_at < oldest))
    return int(result.rowcount or 0)


def get(project: Project, task_id: str) -> Any | None:
    """The task's row (detached), or None when it was never heard (or was purged)."""
    return _TABLE.find(project, task_id)


def children(project: Project, task_id: str, limit: int = 50) -> list[Any]:
    """The tasks this one sent (their `parent_id`), oldest first, at most `limit`."""
    model = ensure_table(project)
    with project.db.Session(expire_on_commit=False) as session:
        rows = list(
            session.scalars(
                select(model)
                .where(model.parent_id == task_id)
                .order_by(model.first_at, model.id)
                .limit(limit)
            )
        )
        session.expunge_all()
        return rows
