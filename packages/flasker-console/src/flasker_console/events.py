"""Celery's events, heard by the console process: what the workers did, stored for the overview.

The workers send an event for every task they receive, start, finish, fail, retry or revoke
(core turns `worker_send_task_events` on by default), and a heartbeat every few seconds. An
`EventListener` (one daemon thread per `ConsoleManager` and process, started on the first
console request) consumes them from the broker and stores each task's outcomes as rows of
`flasker_console_task_events` (task_events.py). The overview's "Tasks, last hour" chart is one
GROUP BY over that table (event_chart.py). The facts this process was first to store also go
to the task history (task_history.py: one row per task, what the list and a task's page show).

Every event, worker and task alike, also goes to the process's `LiveState` (live.py, Celery's
`events.state.State`): the workers table reads who is online (heartbeats), their counts and
load from it, without asking the workers.

Several processes may listen at once (gunicorn workers each run the console): every one of
them hears every event, so a row is unique per (task id, state) and written insert-or-ignore;
the counts stay right however many listen. Rows older than `KEEP` are deleted now and then.

Tasks sent from the console (`flasker_console_tasks`, task_table.py) get their state from the
same events: STARTED and RETRY are written as they arrive, and a final event makes the listener
read the result backend once for that task (`task_table.sync_states`, the read the task list
would make), so the stored result is the backend's, never the event's shortened text.

Connecting is kombu's job: `Connection.ensure_connection` retries a broker that is away, with
pauses growing to `RETRY_MAX` seconds, and its errback reports each failed attempt to the
overview; the listener only decides what to do with errors kombu does not retry.

On the embedded broker (kombu's filesystem transport) the event exchange's bindings live in
the broker's control folder, so a receiver in the console process hears a worker in another
process; core's `prune_stale` removes the binding of a listener that died without unbinding.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from . import task_history, task_table
from .event_chart import CHART_MINUTES, Bar, Chart, Minute, last_hour
from .live import LiveState
from .task_events import (
    EVENTS_TABLE,
    KEEP,
    TASK_STATES,
    TaskEvent,
    TaskEventRecord,
    ensure_table,
    event_model,
    minute_of,
    purge,
    store,
    task_event,
    utcnow,
)

if TYPE_CHECKING:
    from flasker.project import Project

logger = logging.getLogger(__name__)

WORKER_EVENTS = frozenset({"worker-online", "worker-heartbeat", "worker-offline"})
#: Seconds between two deletions of old rows.
PURGE_EVERY = 600.0
#: Seconds events wait in memory before they are written together.
FLUSH_EVERY = 1.0
#: Seconds between writes once a task's final event (succeeded, failed, revoked) waits in the
#: buffer: the operator who watches a task wants its end on the page at once, and a burst of
#: endings still goes out in a few batches, not one transaction per event.
FLUSH_FINAL_EVERY = 0.1
#: The states that end a task (see FLUSH_FINAL_EVERY).
FINAL_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
#: Events kept in memory while the database refuses them; the oldest are dropped beyond it.
MAX_BUFFER = 10_000
#: Seconds before the first reconnection attempt, the growth of each further pause and its cap
#: (kombu's `interval_start`, `interval_step`, `interval_max`: 0.5, 1, 1, 1...).
#: Capped at a second: the events of tasks that finish before the listener is back are never
#: heard (they are not queued for a listener that is away), and a worker reconnects within a
#: few seconds of a restarted broker and runs its queue at once. With pauses growing to 5 s
#: the listener came back after the worker about half the time and the chart missed most of
#: the queue (test_fault_redis_restart.py); an attempt costs one refused TCP connection.
RETRY_START = 0.5
RETRY_STEP = 0.5
RETRY_MAX = 1.0
#: Seconds before trying again after an error kombu does not retry, such as refused
#: credentials: a person has to fix those, so the log is not flooded every second.
PAUSE_AFTER_REFUSAL = 5.0
#: Seconds before connecting again after the connection was lost while listening (kombu's
#: retries take over from there).
PAUSE_AFTER_LOSS = 0.5


def sync_console_tasks(project: Project, events: Sequence[TaskEvent], timeout: float) -> None:
    """Move the console's own task rows on from a batch of events (the latest state of each
    task; a late RETRY/STARTED never undoes an end): see `task_table.sync_states`."""
    latest: dict[str, str] = {}
    for event in events:
        if event.state == "RECEIVED":
            continue
        if latest.get(event.task_id) in task_table.FINAL_STATES:
            continue
        latest[event.task_id] = event.state
    task_table.sync_states(project, latest, timeout)


# -- the listener ---------------------------------------------------------------------------
@dataclass
class WorkerSeen:
    hostname: str
    online: bool
    last_event: float
    #: The 1, 5 and 15 minute load averages of the worker's host, from its heartbeats
    #: (Celery's `stats` reply has none).
    loadavg: tuple[float, ...] = ()


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


class _Stopping(Exception):
    """Raised from kombu's retry callback to end its retries when the listener is stopped."""


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
    """Consume Celery's events in a daemon thread, store the task facts, and feed every
    event (worker and task) to the process's `LiveState` (live.py; `live=`, else its own).

    Never blocks a request: `start()` only starts the thread; kombu reconnects with a growing
    pause (up to `RETRY_MAX`) while the broker is away; `stop()` ends it within about a second.

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
        live: LiveState | None = None,
        history_days: float = task_history.KEEP_DAYS,
    ) -> None:
        self.project = project
        #: Days the task history keeps a task after its last event (`[CONSOLE]
        #: TASK_HISTORY_DAYS`).
        self.history_days = history_days
        #: What the event stream says now (workers online, counts): read by the pages.
        self.live = live if live is not None else LiveState()
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
        #: A task's final event waits in the buffer: write it after FLUSH_FINAL_EVERY.
        self._final_waiting = False
        self._next_purge = 0.0
        self.connected = False
        #: Whether the current round got as far as consuming (see `_run`).
        self._listening = False
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
        """The listener's state, and the workers heard (online: a heartbeat within the last
        two periods plus `live.MARGIN` s)."""
        workers = [
            WorkerSeen(w.hostname, w.online, w.last_heard, w.loadavg) for w in self.live.workers()
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
        try:
            while not self._stopping.is_set():
                self._listening = False
                try:
                    self._listen()
                except _Stopping:
                    break
                except Exception as error:  # lost while listening, or not retried by kombu
                    self._report(f"{type(error).__name__}: {error}")
                    pause = PAUSE_AFTER_LOSS if self._listening else PAUSE_AFTER_REFUSAL
                    self._stopping.wait(pause)
        finally:
            self.connected = False
            self._flush(force=True)

    def _listen(self) -> None:
        """Connect (kombu retries until the broker answers or `stop()`), then consume until
        stopped or the connection is lost."""
        celery = self.project.celery
        with celery.connection_for_read() as connection:
            connection.ensure_connection(
                errback=self._on_connection_error,
                max_retries=None,  # until the broker is back, or stop() (see _check_stopping)
                interval_start=RETRY_START,
                interval_step=RETRY_STEP,
                interval_max=RETRY_MAX,
                callback=self._check_stopping,
            )
            receiver = _receiver_class(celery)(connection, handlers={"*": self._on_event})
            # the receiver connects a clone of `connection`: once, the retrying is done above
            receiver.connect_max_retries = 0
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

    def _on_connection_error(self, error: Exception, interval: float) -> None:
        """kombu's errback: an attempt to connect failed, the next comes in `interval` seconds.

        The problem is named as kombu names it when it gives up (its `OperationalError`)."""
        self._report(f"OperationalError: {error}")

    def _check_stopping(self) -> None:
        """kombu's callback, called between attempts and every second of their pauses."""
        if self._stopping.is_set():
            raise _Stopping

    def _report(self, problem: str) -> None:
        """Say the broker is not answering (logged once per distinct problem), and write the
        events heard so far."""
        self.connected = False
        if problem != self.problem:
            logger.warning("console event listener: broker problem: %s", problem)
        self.problem = problem
        self._flush(force=True)

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
        self._listening = True
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
        """Every event goes to the live state; a task's outcome is also kept for the table."""
        if event.get("type") not in WORKER_EVENTS:
            self._buffer_fact(event)
        try:
            self.live.feed(event)
        except Exception:  # a malformed event must not stop the listener
            logger.exception("console event listener: cannot follow event %r", event)

    def _buffer_fact(self, event: dict[str, Any]) -> None:
        try:
            fact = task_event(event)
            if fact is not None:
                with self._lock:
                    self._buffer.append(fact)
                    del self._buffer[:-MAX_BUFFER]
                    if fact.state in FINAL_STATES:
                        self._final_waiting = True
        except Exception:  # a malformed event must not stop the listener
            logger.exception("console event listener: cannot read event %r", event)

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        every = self.flush_every
        if self._final_waiting:
            every = min(every, FLUSH_FINAL_EVERY)
        if not force and now - self._last_flush < every:
            return
        self._last_flush = now
        with self._lock:
            batch, self._buffer = self._buffer, []
            self._final_waiting = False
        if not batch:
            return
        try:
            store(self.project, batch, then=task_history.recorder(self.project))
            if time.monotonic() >= self._next_purge:
                purge(self.project, self.keep)
                task_history.purge(self.project, self.history_days)
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


__all__ = [
    "CHART_MINUTES",
    "EVENTS_TABLE",
    "KEEP",
    "TASK_STATES",
    "Bar",
    "Chart",
    "EventListener",
    "ListenerStatus",
    "Minute",
    "TaskEvent",
    "TaskEventRecord",
    "WorkerSeen",
    "ensure_table",
    "event_model",
    "last_hour",
    "minute_of",
    "purge",
    "store",
    "sync_console_tasks",
    "task_event",
    "utcnow",
]
