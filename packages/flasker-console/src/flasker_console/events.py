"""Celery's events, heard by the console process: what the workers did, stored for the overview.

The workers send an event for every task they receive, start, finish, fail, retry or revoke
(core turns `worker_send_task_events` on by default), and a heartbeat every few seconds. An
`EventListener` (one daemon thread per `ConsoleManager` and process, started on the first
console request) consumes them from the broker and stores each task's outcomes as rows of
`flasker_console_task_events` (core's `Model`, `__api__ = False`, mapped and created on first
use like the console's other tables). The overview's "Tasks, last hour" chart is one GROUP BY
over that table.

Several processes may listen at once (gunicorn workers each run the console): every one of
them hears every event, so a row is unique per (task id, state) and written insert-or-ignore;
the counts stay right however many listen. Rows older than `KEEP` are deleted now and then.

Tasks sent from the console (`flasker_console_tasks`, tasks.py) get their state from the same
events: STARTED and RETRY are written as they arrive, and a final event makes the listener read
the result backend once for that task (as tasks.py would when the list is next polled), so the
stored result is the backend's, never the event's shortened text.

On the embedded broker (kombu's filesystem transport) the event exchange's bindings live in
the broker's control folder, so a receiver in the console process hears a worker in another
process; core's `prune_stale` removes the binding of a listener that died without unbinding.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Index, Integer, String, UniqueConstraint, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from ._lazy_table import LazyTable

if TYPE_CHECKING:
    from sqlalchemy.sql.expression import Executable

    from flasker.project import Project

logger = logging.getLogger(__name__)

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
WORKER_EVENTS = frozenset({"worker-online", "worker-heartbeat", "worker-offline"})
#: How long rows are kept (the chart shows one hour; a day leaves room for later pages).
KEEP = timedelta(hours=24)
#: Seconds between two deletions of old rows.
PURGE_EVERY = 600.0
#: Seconds events wait in memory before they are written together.
FLUSH_EVERY = 1.0
#: Events kept in memory while the database refuses them; the oldest are dropped beyond it.
MAX_BUFFER = 10_000
#: Seconds between reconnection attempts, growing while the broker stays away. Capped at a
#: few seconds: the events of tasks that finish before the listener is back are never heard
#: (they are not queued for a listener that is away), so after a broker restart the chart
#: misses what the workers did until the next attempt. An attempt costs one connection.
BACKOFF = (0.5, 1.0, 2.0, 3.0, 5.0)
#: A worker whose last heartbeat is older than this counts as offline (Celery's own expiry).
HEARTBEAT_EXPIRY = 60.0
#: Minutes the chart shows.
CHART_MINUTES = 60


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


# -- the chart ------------------------------------------------------------------------------
@dataclass
class Minute:
    start: datetime
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


@dataclass
class Bar:
    """One minute's stacked bar, in the SVG's coordinates."""

    minute: Minute
    x: float
    width: float
    succeeded_y: float
    succeeded_height: float
    failed_y: float
    failed_height: float


@dataclass
class Chart:
    """Succeeded and failed tasks per minute, oldest minute first."""

    minutes: list[Minute]
    width: int = 600
    height: int = 120

    @property
    def succeeded(self) -> int:
        return sum(m.succeeded for m in self.minutes)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.minutes)

    @property
    def peak(self) -> int:
        return max((m.total for m in self.minutes), default=0)

    @property
    def summary(self) -> str:
        return f"{self.succeeded} succeeded, {self.failed} failed in the last hour"

    @property
    def bars(self) -> list[Bar]:
        """Bars of the minutes with tasks (an empty minute draws nothing)."""
        slot = self.width / max(1, len(self.minutes))
        scale = self.height / self.peak if self.peak else 0.0
        bars = []
        for index, minute in enumerate(self.minutes):
            if not minute.total:
                continue
            ok = minute.succeeded * scale
            bad = minute.failed * scale
            bars.append(
                Bar(
                    minute,
                    x=round(index * slot + slot * 0.1, 2),
                    width=round(slot * 0.8, 2),
                    succeeded_y=round(self.height - ok, 2),
                    succeeded_height=round(ok, 2),
                    failed_y=round(self.height - ok - bad, 2),
                    failed_height=round(bad, 2),
                )
            )
        return bars


def last_hour(project: Project, now: datetime | None = None) -> Chart:
    """The chart of the last `CHART_MINUTES` minutes (this one included): one query."""
    model = ensure_table(project)
    end = minute_of(now or utcnow())
    start = end - CHART_MINUTES + 1
    query = (
        select(model.minute, model.state, func.count())
        .where(model.minute >= start, model.minute <= end)
        .where(model.state.in_(("SUCCESS", "FAILURE")))
        .group_by(model.minute, model.state)
    )
    with project.db.engine.connect() as connection:
        counts = connection.execute(query).all()
    minutes = [Minute(datetime.fromtimestamp(m * 60, UTC)) for m in range(start, end + 1)]
    for minute, state, count in counts:
        bucket = minutes[int(minute) - start]
        if state == "SUCCESS":
            bucket.succeeded = int(count)
        else:
            bucket.failed = int(count)
    return Chart(minutes)


# -- tasks sent from the console --------------------------------------------------------------
def sync_console_tasks(project: Project, events: Sequence[TaskEvent], timeout: float) -> None:
    """Move the console's own task rows on: STARTED and RETRY from the events, final states
    from one result-backend read each (the same read the task list would make)."""
    from sqlalchemy import inspect

    from flasker.health import within

    from . import tasks

    latest: dict[str, str] = {}
    for event in events:
        if event.state == "RECEIVED":
            continue
        if latest.get(event.task_id) in tasks.FINAL_STATES:
            continue  # a late RETRY/STARTED never undoes an end
        latest[event.task_id] = event.state
    if not latest:
        return
    engine = project.db.engine
    if not inspect(engine).has_table(tasks.TASKS_TABLE):
        return  # the console never sent a task here: nothing to update
    model = tasks.task_model()
    with project.db.Session(expire_on_commit=False) as session:
        rows = session.scalars(
            select(model).where(
                model.task_id.in_(list(latest)), model.state.not_in(tasks.FINAL_STATES)
            )
        ).all()
        for row in rows:
            state = latest[row.task_id]
            if state in tasks.FINAL_STATES:
                found = within(timeout, functools.partial(tasks._backend_state, project, row))
                if found[0] in tasks.FINAL_STATES:
                    tasks._apply(row, *found)
            elif state == "STARTED" and row.state in ("PENDING", "RETRY"):
                row.state = "STARTED"
            elif state == "RETRY":
                row.state = "RETRY"
        session.commit()


# -- the listener ---------------------------------------------------------------------------
@dataclass
class WorkerSeen:
    hostname: str
    online: bool
    last_event: float
    #: The 1, 5 and 15 minute load averages of the worker's host, from its heartbeats
    #: (Celery's `stats` reply has none).
    loadavg: tuple[float, ...] = ()


def _loadavg(event: dict[str, Any]) -> tuple[float, ...]:
    values = event.get("loadavg")
    if not isinstance(values, list | tuple):
        return ()
    try:
        return tuple(float(value) for value in values[:3])
    except (TypeError, ValueError):
        return ()


def _receiver_class(celery: Any) -> type:
    """Celery's Receiver, keeping each event's timestamp as the worker sent it.

    By default the Receiver moves a timestamp by the difference between the worker's and this
    process's UTC offsets; the timestamps are `time.time()` values, the same everywhere, so a
    worker in UTC heard by a console in Europe/Paris would land an hour off the chart.
    """
    base = celery.events.Receiver

    class UnshiftedReceiver(base):  # type: ignore[misc, valid-type]
        def event_from_message(self, body: Any, localize: bool = True, **kw: Any) -> Any:
            return super().event_from_message(body, localize=False, **kw)

    return UnshiftedReceiver


@dataclass
class ListenerStatus:
    """What the overview says about the listener."""

    running: bool
    connected: bool
    since: datetime | None
    problem: str | None
    database_problem: str | None
    workers: list[WorkerSeen] = field(default_factory=list)


class EventListener:
    """Consume Celery's events in a daemon thread and store the task facts.

    Never blocks a request: `start()` only starts the thread; reconnects with a growing pause
    (`BACKOFF`) while the broker is away; `stop()` ends it within about a second.

        listener = EventListener(project)
        listener.start()
        ...
        listener.stop()
    """

    def __init__(
        self,
        project: Project,
        flush_every: float = FLUSH_EVERY,
        keep: timedelta = KEEP,
        backend_timeout: float = 2.0,
    ) -> None:
        self.project = project
        self.flush_every = flush_every
        self.keep = keep
        self.backend_timeout = backend_timeout
        self.pid = os.getpid()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._receiver: Any = None
        self._lock = threading.Lock()
        self._buffer: list[TaskEvent] = []
        self._last_flush = 0.0
        self._next_purge = 0.0
        self._workers: dict[str, WorkerSeen] = {}
        self.connected = False
        self.since: datetime | None = None
        self.problem: str | None = None
        self.database_problem: str | None = None
        #: The broker queue of the current connection (`celeryev.<uuid>`).
        self.queue_name: str | None = None

    def __repr__(self) -> str:
        return f"<EventListener {self.project.config.name} running={self.is_running}>"

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread unless it runs (returns at once)."""
        with self._lock:
            if self.is_running or self._stopping.is_set():
                return
            self._thread = threading.Thread(
                target=self._run, name="flasker-console-events", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop, write what it holds, and wait up to `timeout` seconds."""
        self._stopping.set()
        receiver = self._receiver
        if receiver is not None:
            receiver.should_stop = True
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def status(self) -> ListenerStatus:
        now = time.time()
        with self._lock:
            workers = [
                WorkerSeen(
                    w.hostname,
                    w.online and now - w.last_event < HEARTBEAT_EXPIRY,
                    w.last_event,
                    w.loadavg,
                )
                for w in self._workers.values()
            ]
        return ListenerStatus(
            self.is_running,
            self.connected,
            self.since,
            self.problem,
            self.database_problem,
            sorted(workers, key=lambda w: w.hostname),
        )

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        try:
            while not self._stopping.is_set():
                try:
                    self._listen()
                    attempt = 0
                except Exception as error:
                    self.connected = False
                    problem = f"{type(error).__name__}: {error}"
                    if problem != self.problem:
                        logger.warning("console event listener: broker problem: %s", problem)
                    self.problem = problem
                    delay = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                    attempt += 1
                    self._flush(force=True)
                    self._stopping.wait(delay)
        finally:
            self.connected = False
            self._flush(force=True)

    def _listen(self) -> None:
        celery = self.project.celery
        with celery.connection_for_read() as connection:
            # fail fast when the broker is away: our loop retries, with its own pauses
            connection.ensure_connection(max_retries=1, interval_start=0, timeout=5)
            receiver = _receiver_class(celery)(connection, handlers={"*": self._on_event})
            receiver.connect_max_retries = 1
            receiver.on_iteration = self._on_iteration
            self._receiver = receiver
            if self._stopping.is_set():
                return
            self.queue_name = receiver.queue.name
            for _ in receiver.consume(limit=None, timeout=None, safety_interval=1.0, wakeup=True):
                if not self.connected:
                    self._connected()
            self._receiver = None
            self._unbind(receiver, connection)

    def _unbind(self, receiver: Any, connection: Any) -> None:
        """Delete our event queue on a clean stop: the embedded broker keeps a dead queue's
        binding (and writes every event for it) until core prunes it; other brokers drop an
        auto-delete queue anyway."""
        try:
            receiver.queue(connection.default_channel).delete()
        except Exception as error:
            logger.debug("console event listener: cannot delete its queue: %s", error)

    def _connected(self) -> None:
        self.connected = True
        self.problem = None
        self.since = utcnow()

    def _on_iteration(self) -> None:
        """Called by the receiver about once a second, and after every message."""
        receiver = self._receiver
        if receiver is not None and not self.connected:
            self._connected()
        if self._stopping.is_set() and receiver is not None:
            receiver.should_stop = True
        self._flush()

    def _on_event(self, event: dict[str, Any]) -> None:
        try:
            kind = event.get("type")
            if kind in WORKER_EVENTS:
                hostname = str(event.get("hostname") or "?")
                with self._lock:
                    self._workers[hostname] = WorkerSeen(
                        hostname, kind != "worker-offline", time.time(), _loadavg(event)
                    )
                return
            fact = task_event(event)
            if fact is not None:
                with self._lock:
                    self._buffer.append(fact)
                    del self._buffer[:-MAX_BUFFER]
        except Exception:  # a malformed event must not stop the listener
            logger.exception("console event listener: cannot read event %r", event)

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_flush < self.flush_every:
            return
        self._last_flush = now
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return
        try:
            store(self.project, batch)
            if time.monotonic() >= self._next_purge:
                purge(self.project, self.keep)
                self._next_purge = time.monotonic() + PURGE_EVERY
            self.database_problem = None
        except Exception as error:
            problem = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            if problem != self.database_problem:
                logger.warning("console event listener: cannot store task events: %s", problem)
            self.database_problem = problem
            with self._lock:  # keep them for the next try
                self._buffer[:0] = batch
                del self._buffer[:-MAX_BUFFER]
            return
        try:
            sync_console_tasks(self.project, batch, self.backend_timeout)
        except Exception as error:  # the task list polls the backend itself: nothing is lost
            logger.warning("console event listener: cannot update console tasks: %s", error)
