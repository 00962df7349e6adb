"""The queues' backlog over time: sampled in the background, kept in the database, charted.

The overview's Workers card shows how many messages wait in each queue now (queues.py); a number
alone does not say whether the workers are catching up. So each console process samples the
lengths every `SAMPLE_EVERY` seconds in a daemon thread (`Sampler`, started with the events
listener by the first console request; none with `[CONSOLE] EVENTS = false`), and every fresh
count the overview makes is a sample too. Samples go to `flasker_console_queue_backlog`, one row
per (minute, queue) holding the most messages seen waiting in that minute: an upsert that only
ever raises the value, so several processes (gunicorn workers) sampling the same broker write
one row, and a process writes only when it saw more than it already wrote this minute
(`_Peaks`). The overview draws the last `CHART_MINUTES` minutes from one query (`last_hour`); a
minute in which no console process ran has no bar, while an empty queue's minute has a thin
line at the base.

`current` is the lengths of the last second (health.Recent), counted again at once after this
process publishes a task; /metrics serves the sampler's last count (`latest`) while it is
fresh, so a scrape rarely asks the broker.

Rows older than `KEEP` are purged by the sampler now and then.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from celery.signals import after_task_publish
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.exc import IntegrityError

from . import queues
from ._lazy_table import create_table
from .event_chart import CHART_MINUTES
from .health import recent
from .task_events import KEEP, minute_of, purge_minutes, utcnow

if TYPE_CHECKING:
    from flasker.project import Project

    from .queues import QueueLengths

logger = logging.getLogger(__name__)

BACKLOG_TABLE = "flasker_console_queue_backlog"
#: Seconds between two background samples of the queue lengths.
SAMPLE_EVERY = 10.0
#: Seconds between two purges of rows older than `KEEP`.
PURGE_EVERY = 600.0
#: A backlog this much larger than five minutes earlier (and not small) is called growing.
GROWING_BY = 1.2
#: Minutes compared by the trend (`BacklogChart.trend`).
TREND_MINUTES = 5


#: A Core table of its own metadata, not a model on core's `Model`: the sampler thread writes
#: it on its own clock, and mapping a class there (what `LazyTable` does) from a background
#: thread would race with anything that changes the ORM registry (a test suite unmapping its
#: models); nothing here needs the ORM.
BACKLOG = Table(
    BACKLOG_TABLE,
    MetaData(),
    # the most messages seen waiting in `queue` during `minute` (minutes since the epoch)
    Column("minute", Integer, primary_key=True, autoincrement=False),
    Column("queue", String(200), primary_key=True),
    Column("messages", Integer, nullable=False),
)
_created: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def ensure_table(project: Project) -> Table:
    """Create the table when missing (once per engine); return it."""
    engine = project.db.engine
    if not _created.get(engine):
        create_table(engine, BACKLOG)
        _created[engine] = True
    return BACKLOG


# -- writing samples ---------------------------------------------------------------------------
class _Peaks:
    """What this process already wrote for the current minute (queue → messages), so a sample
    that adds nothing (the usual case: the same lengths again) costs no write."""

    def __init__(self) -> None:
        self.minute = -1
        self.values: dict[str, int] = {}
        self.lock = threading.Lock()

    def new(self, minute: int, counts: dict[str, int]) -> dict[str, int]:
        """The counts above what was written this minute; remembered as written."""
        with self.lock:
            if minute != self.minute:
                self.minute, self.values = minute, {}
            higher = {q: n for q, n in counts.items() if n > self.values.get(q, -1)}
            self.values.update(higher)
            return higher

    def forget(self, minute: int, counts: Iterable[str]) -> None:
        """A write failed: these are not written after all."""
        with self.lock:
            if minute == self.minute:
                for name in counts:
                    self.values.pop(name, None)


_peaks: weakref.WeakKeyDictionary[Project, _Peaks] = weakref.WeakKeyDictionary()
_latest: weakref.WeakKeyDictionary[Project, tuple[float, QueueLengths]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def record(project: Project, lengths: QueueLengths, now: datetime | None = None) -> int:
    """Store the known lengths as samples of their minute; return the rows written (0 when
    nothing rose above what this process wrote this minute)."""
    minute = minute_of(now or utcnow())
    counts = {q.name: q.messages for q in lengths.queues if q.messages is not None}
    with _lock:
        peaks = _peaks.setdefault(project, _Peaks())
    higher = peaks.new(minute, counts)
    if not higher:
        return 0
    try:
        _upsert(project, minute, higher)
    except Exception:
        peaks.forget(minute, higher)
        raise
    return len(higher)


def _upsert(project: Project, minute: int, counts: dict[str, int]) -> None:
    """Insert each (minute, queue), or raise its stored value to the new one; never lowers it
    (another process may have seen more this minute)."""
    table = ensure_table(project)
    rows = [{"minute": minute, "queue": name, "messages": n} for name, n in counts.items()]
    engine = project.db.engine
    dialect = engine.dialect.name
    with engine.begin() as connection:
        if dialect in ("postgresql", "sqlite"):
            from sqlalchemy.dialects import postgresql, sqlite

            insert: Any = (postgresql if dialect == "postgresql" else sqlite).insert
            statement = insert(table)
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.minute, table.c.queue],
                set_={"messages": statement.excluded.messages},
                where=table.c.messages < statement.excluded.messages,
            )
            connection.execute(statement, rows)
            return
        for row in rows:  # any other database: insert, or raise the stored value
            try:
                with connection.begin_nested():
                    connection.execute(table.insert(), row)
            except IntegrityError:
                connection.execute(
                    update(table)
                    .where(table.c.minute == minute, table.c.queue == row["queue"])
                    .where(table.c.messages < row["messages"])
                    .values(messages=row["messages"])
                )


def purge(project: Project, keep: timedelta = KEEP, now: datetime | None = None) -> int:
    """Delete samples older than `keep`; return how many."""
    return purge_minutes(project, ensure_table(project), keep, now)


# -- counting now ------------------------------------------------------------------------------
def measure(project: Project, consumers: dict[str, int], timeout: float) -> QueueLengths:
    """Count the queues now (queues.queue_lengths, within `timeout`), keep the count as this
    process's latest and store it as a sample; a database that cannot store it is logged,
    never raised (the count is still right)."""
    lengths = queues.queue_lengths(project, consumers, timeout)
    with _lock:
        _latest[project] = (time.monotonic(), lengths)
    if lengths.problem is None:
        try:
            record(project, lengths)
        except Exception as error:
            logger.warning("the console could not store the queue lengths: %s", error)
    return lengths


def latest(project: Project, fresh_for: float = 2 * SAMPLE_EVERY) -> QueueLengths | None:
    """This process's last count, when younger than `fresh_for` seconds."""
    with _lock:
        found = _latest.get(project)
    if found is None or time.monotonic() - found[0] > fresh_for:
        return None
    return found[1]


class _Published:
    """Tasks this process published (Celery's `after_task_publish`): part of the key of the
    lengths kept by `recent`, so a task sent here is counted on the next card."""

    count = 0

    @classmethod
    def sent(cls, **_: Any) -> None:
        cls.count += 1


after_task_publish.connect(_Published.sent, weak=False)


def current(project: Project, consumers: dict[str, int], timeout: float) -> QueueLengths:
    """The lengths of the last `health.FRESH_FOR` seconds, shared by every request of the
    process (one counts, the others take its answer); counted again at once when the queues
    consumed or what this process published changed."""
    key = ("queues", tuple(sorted(consumers.items())), timeout, _Published.count)
    return recent(project).get(key, lambda: measure(project, consumers, timeout))


# -- the background sampler --------------------------------------------------------------------
class Sampler:
    """A daemon thread counting the queues every `every` seconds (`measure`) and purging old
    samples now and then. `consumers()` gives the queues the online workers consume (the
    workers table's last round: the sampler never asks the workers itself)."""

    def __init__(
        self,
        project: Project,
        consumers: Callable[[], dict[str, int]],
        timeout: float,
        every: float = SAMPLE_EVERY,
    ) -> None:
        self.project = project
        self.consumers = consumers
        self.timeout = timeout
        self.every = every
        self.pid = os.getpid()
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_purge = 0.0

    def __repr__(self) -> str:
        return f"<Sampler {self.project.config.name} every={self.every}s samples={self.samples}>"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="flasker-console-backlog", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.sample()
            except Exception:  # a sample must never end the thread
                logger.exception("the console could not sample the queue lengths")

    def sample(self) -> QueueLengths:
        """One sample now (and a purge when one is due)."""
        lengths = measure(self.project, self.consumers(), self.timeout)
        self.samples += 1
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY
            try:
                purge(self.project)
            except Exception as error:
                logger.warning("the console could not purge old queue samples: %s", error)
        return lengths


# -- the chart ---------------------------------------------------------------------------------
@dataclass
class BacklogMinute:
    start: datetime
    #: queue → most messages seen waiting that minute; empty: no sample (no console ran).
    queues: dict[str, int] = field(default_factory=dict)

    @property
    def sampled(self) -> bool:
        return bool(self.queues)

    @property
    def total(self) -> int:
        return sum(self.queues.values())

    @property
    def label(self) -> str:
        """The bar's tooltip: the minute and each queue's count."""
        when = self.start.strftime("%H:%M")
        if not self.queues:
            return f"{when} UTC: not sampled"
        counts = ", ".join(f"{name} {n}" for name, n in sorted(self.queues.items()))
        return f"{when} UTC: {self.total} waiting ({counts})"


@dataclass
class BacklogBar:
    minute: BacklogMinute
    x: float
    y: float
    width: float
    height: float


@dataclass
class BacklogChart:
    """Messages waiting per minute (the most seen, summed over the queues), oldest first."""

    minutes: list[BacklogMinute]
    width: int = 600
    height: int = 60

    @property
    def sampled(self) -> list[BacklogMinute]:
        return [minute for minute in self.minutes if minute.sampled]

    @property
    def peak(self) -> int:
        return max((minute.total for minute in self.minutes), default=0)

    @property
    def now(self) -> int | None:
        """The newest sampled minute's total (None: no sample in the chart's hour)."""
        sampled = self.sampled
        return sampled[-1].total if sampled else None

    @property
    def trend(self) -> str | None:
        """ "growing", "draining" or "steady": the newest sample against the one
        `TREND_MINUTES` minutes before it (None: too few samples to say)."""
        sampled = self.sampled
        if len(sampled) < 2:
            return None
        newest = sampled[-1]
        horizon = newest.start - timedelta(minutes=TREND_MINUTES)
        earlier = next((m for m in sampled if m.start >= horizon), sampled[0])
        if earlier is newest:
            earlier = sampled[-2]
        if newest.total > max(earlier.total * GROWING_BY, earlier.total + 5):
            return "growing"
        if newest.total < earlier.total:
            return "draining"
        return "steady"

    @property
    def summary(self) -> str:
        if self.now is None:
            return "No sample of the queues in the last hour"
        text = f"{self.now} waiting now, at most {self.peak} in one minute of the last hour"
        return f"{text}; {self.trend}" if self.trend else text

    @property
    def bars(self) -> list[BacklogBar]:
        """A bar per sampled minute; an empty queue draws a 1-unit line (sampled, 0)."""
        slot = self.width / max(1, len(self.minutes))
        scale = self.height / self.peak if self.peak else 0.0
        bars = []
        for index, minute in enumerate(self.minutes):
            if not minute.sampled:
                continue
            height = max(1.0, minute.total * scale)
            bars.append(
                BacklogBar(
                    minute,
                    x=round(index * slot + slot * 0.1, 2),
                    y=round(self.height - height, 2),
                    width=round(slot * 0.8, 2),
                    height=round(height, 2),
                )
            )
        return bars


def last_hour(project: Project, now: datetime | None = None) -> BacklogChart:
    """The backlog of the last `CHART_MINUTES` minutes (this one included): one query."""
    table = ensure_table(project)
    end = minute_of(now or utcnow())
    start = end - CHART_MINUTES + 1
    query = select(table.c.minute, table.c.queue, table.c.messages).where(
        table.c.minute >= start, table.c.minute <= end
    )
    with project.db.engine.connect() as connection:
        rows = connection.execute(query).all()
    minutes = [BacklogMinute(datetime.fromtimestamp(m * 60, UTC)) for m in range(start, end + 1)]
    for minute, name, messages in rows:
        minutes[int(minute) - start].queues[name] = int(messages)
    return BacklogChart(minutes)


__all__ = [
    "BACKLOG_TABLE",
    "BacklogChart",
    "Sampler",
    "current",
    "last_hour",
    "latest",
    "measure",
    "purge",
    "record",
]
