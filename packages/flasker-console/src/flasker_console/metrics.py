"""Prometheus metrics of the project's tasks and workers: `GET <console>/metrics` (admins only:
an admin's session, or with flasker-auth a `metrics:read` token of an admin, for a scraper).

Computed on each scrape from what the console already keeps, never by asking the workers (a
broadcast round inside a scrape would cost a whole inspect timeout):

- the task events table (task_events.py, the last `KEEP` of events): ONE query, whatever the
  number of rows, groups every task by name, worker and the furthest state it reached, with the
  events it produced and its runtime (from its task-started to its task-succeeded/failed);
- the events listener's heartbeats (events.py): which workers are online;
- the workers roster's last table (roster.py), only when it holds one: pool size, tasks being
  executed and tasks processed, from the last `inspect` round the workers page started;
- the queue lengths (backlog.py): the backlog sampler's last count while it is fresh (at most
  `2 * SAMPLE_EVERY` s old), else counted now within CHECK_TIMEOUT (a passive declare per
  queue: the broker is asked, never the workers). Flower's `/metrics` has no queue lengths.

The names follow Flower's `/metrics` where one matches, with the same labels (`task`, `worker`,
`type`): `flower_events_total` → `flasker_console_task_events`, `flower_task_runtime_seconds`
→ `flasker_console_task_runtime_seconds`, `flower_worker_online` →
`flasker_console_worker_online`, `flower_worker_number_of_currently_executing_tasks` →
`flasker_console_worker_executing_tasks`. They are gauges, not counters: they count stored
rows, which are purged after `KEEP`, and every console process (gunicorn workers) reads the
same table, so any one of them answers the same figures.

Each request builds a fresh `CollectorRegistry` holding one `ConsoleCollector`: no process-wide
state (prometheus-client's default registry would be one per gunicorn worker, each different).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from sqlalchemy import case, extract, func, select

from . import backlog
from ._site import console_site
from .task_events import TASK_STATES, ensure_table

if TYPE_CHECKING:
    from sqlalchemy.sql.elements import ColumnElement

    from flasker.project import Project

    from ._site import ConsoleSite
    from .events import ListenerStatus
    from .queues import QueueLengths
    from .workers import WorkersView

PREFIX = "flasker_console"
#: Runtime histogram buckets, in seconds: prometheus-client's defaults, as Flower uses them.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
#: The furthest state a task reached: a later state outranks an earlier one (a task that
#: succeeded after a retry is SUCCESS; one retried and not yet done again, RETRY).
RANKS = {"RECEIVED": 1, "STARTED": 2, "RETRY": 3, "REVOKED": 4, "FAILURE": 5, "SUCCESS": 6}
STATES = {rank: state for state, rank in RANKS.items()}
#: The Celery event type that stores each state (`task-succeeded` for SUCCESS...).
EVENT_TYPES = {state: kind for kind, state in TASK_STATES.items()}
#: Column label of each state's "this task has that event" flag in the query.
FLAGS = {state: f"has_{state.lower()}" for state in RANKS}
#: The databases whose date arithmetic `_runtime` knows (elsewhere: no runtime histogram).
RUNTIME_DIALECTS = frozenset({"sqlite", "postgresql"})


@dataclass
class TaskGroup:
    """The tasks of one name and worker that reached the same furthest state."""

    task: str
    worker: str
    state: str
    tasks: int
    events: dict[str, int]
    #: Runtime histogram: cumulative counts per bucket of `BUCKETS`, the count and the sum.
    buckets: list[int] = field(default_factory=list)
    timed: int = 0
    seconds: float = 0.0


def _runtime(dialect: str, started: Any, ended: Any) -> ColumnElement[Any] | None:
    """Seconds from `started` to `ended` in the database's own words; None where the console
    does not know them (the histogram is then left out)."""
    if dialect == "sqlite":  # DateTime is stored as ISO text there
        return (func.julianday(ended) - func.julianday(started)) * 86400.0
    if dialect == "postgresql":
        return extract("epoch", ended - started)
    return None


def task_groups(project: Project) -> list[TaskGroup]:
    """Every stored task, grouped by name, worker and furthest state: one query.

    The inner query folds each task's rows (one per state it reached) into one; the outer one
    counts them, their events and their runtimes' histogram per group."""
    model = ensure_table(project)
    dialect = project.db.engine.dialect.name
    rank = case(*((model.state == state, value) for state, value in RANKS.items()), else_=0)
    finished = model.state.in_(("SUCCESS", "FAILURE"))
    per_task = (
        select(
            func.max(model.name).label("name"),
            func.max(model.hostname).label("worker"),
            func.max(rank).label("rank"),
            *(
                func.max(case((model.state == state, 1), else_=0)).label(flag)
                for state, flag in FLAGS.items()
            ),
            func.min(case((model.state == "STARTED", model.at))).label("started"),
            func.min(case((finished, model.at))).label("ended"),
        )
        .group_by(model.task_id)
        .subquery()
    )
    columns: list[Any] = [
        per_task.c.name,
        per_task.c.worker,
        per_task.c.rank,
        func.count().label("tasks"),
        *(func.sum(per_task.c[flag]).label(flag) for flag in FLAGS.values()),
    ]
    runtime = _runtime(dialect, per_task.c.started, per_task.c.ended)
    if runtime is not None:
        columns += [func.count(runtime), func.sum(runtime)]
        columns += [func.sum(case((runtime <= bound, 1), else_=0)) for bound in BUCKETS]
    query = select(*columns).group_by(per_task.c.name, per_task.c.worker, per_task.c.rank)
    with project.db.engine.connect() as connection:
        rows = connection.execute(query).all()
    groups = []
    for row in rows:
        group = TaskGroup(
            task=row.name or "",
            worker=row.worker or "",
            state=STATES.get(row.rank, "UNKNOWN"),
            tasks=int(row.tasks),
            events={state: int(row._mapping[flag] or 0) for state, flag in FLAGS.items()},
        )
        if runtime is not None:
            timed, seconds, *buckets = row[4 + len(FLAGS) :]
            group.timed, group.seconds = int(timed or 0), float(seconds or 0.0)
            group.buckets = [int(count or 0) for count in buckets]
        groups.append(group)
    return sorted(groups, key=lambda g: (g.task, g.worker, RANKS.get(g.state, 0)))


# -- the metric families ----------------------------------------------------------------------
def task_metrics(groups: Sequence[TaskGroup], has_runtime: bool) -> Iterator[Metric]:
    tasks = GaugeMetricFamily(
        f"{PREFIX}_tasks",
        "Tasks heard in the stored window, by name, worker and the furthest state they reached",
        labels=["task", "worker", "state"],
    )
    for group in groups:
        tasks.add_metric([group.task, group.worker, group.state], group.tasks)
    yield tasks

    events: dict[tuple[str, str, str], int] = defaultdict(int)
    for group in groups:
        for state, count in group.events.items():
            if count:
                events[(group.task, group.worker, EVENT_TYPES[state])] += count
    family = GaugeMetricFamily(
        f"{PREFIX}_task_events",
        "Task events stored (Flower's flower_events_total over the stored window), by task, "
        "worker and event type",
        labels=["task", "worker", "type"],
    )
    for labels, count in sorted(events.items()):
        family.add_metric(list(labels), count)
    yield family

    if not has_runtime:
        return
    histogram = HistogramMetricFamily(
        f"{PREFIX}_task_runtime_seconds",
        "Runtime of the finished tasks (task-started to task-succeeded or task-failed), "
        "by task and worker",
        labels=["task", "worker"],
    )
    timed: dict[tuple[str, str], list[float]] = {}
    for group in groups:
        if not group.timed:
            continue
        totals = timed.setdefault((group.task, group.worker), [0.0] * (len(BUCKETS) + 2))
        for index, count in enumerate([*group.buckets, group.timed]):
            totals[index] += count
        totals[-1] += group.seconds
    for (task, worker), totals in sorted(timed.items()):
        bounds = [*(repr(bound) for bound in BUCKETS), "+Inf"]
        histogram.add_metric(
            [task, worker], list(zip(bounds, totals[:-1], strict=True)), totals[-1]
        )
    yield histogram


def queue_metrics(lengths: QueueLengths | None) -> Iterator[Metric]:
    """Messages waiting and online consumers per queue; a queue whose length is unknown (the
    broker did not answer) is left out, and `queue_lengths_known` says so."""
    if lengths is None:
        return
    waiting = GaugeMetricFamily(
        f"{PREFIX}_queue_length",
        "Messages waiting in the queue (ready for a worker, not yet taken)",
        labels=["queue"],
    )
    consumers = GaugeMetricFamily(
        f"{PREFIX}_queue_consumers", "Online workers consuming the queue", labels=["queue"]
    )
    for queue in lengths.queues:
        if queue.messages is not None:
            waiting.add_metric([queue.name], queue.messages)
        consumers.add_metric([queue.name], queue.consumers)
    yield waiting
    yield consumers
    known = lengths.problem is None and all(q.messages is not None for q in lengths.queues)
    yield GaugeMetricFamily(
        f"{PREFIX}_queue_lengths_known",
        "1 when the broker answered for every queue, else 0 (some lengths are missing)",
        value=1 if known else 0,
    )


def worker_metrics(listener: ListenerStatus | None, roster: WorkersView | None) -> Iterator[Metric]:
    """Online from the heartbeats the listener heard (the roster's last table when the
    listener is off); pool size, executing and processed from that table when there is one."""
    online: dict[str, bool] = {}
    if roster is not None:
        online.update({worker.hostname: worker.online for worker in roster.workers})
    if listener is not None and listener.running:
        online.update({worker.hostname: worker.online for worker in listener.workers})
    family = GaugeMetricFamily(
        f"{PREFIX}_worker_online",
        "1 while the worker is online (its heartbeats are heard), else 0",
        labels=["worker"],
    )
    for hostname, is_online in sorted(online.items()):
        family.add_metric([hostname], 1 if is_online else 0)
    yield family
    yield GaugeMetricFamily(
        f"{PREFIX}_workers_online", "Workers online", value=sum(online.values())
    )
    if listener is not None:
        yield GaugeMetricFamily(
            f"{PREFIX}_events_connected",
            "1 while the console hears the workers' events, else 0 (the task figures stop)",
            value=1 if listener.connected else 0,
        )
    if roster is None:
        return
    figures = (
        ("worker_executing_tasks", "Tasks the worker was executing", "active"),
        ("worker_pool_size", "Processes (or threads) of the worker's pool", "concurrency"),
        ("worker_processed_tasks", "Tasks the worker processed since it started", "processed"),
    )
    for name, text, attribute in figures:
        family = GaugeMetricFamily(
            f"{PREFIX}_{name}",
            f"{text}, at the workers page's last inspect round",
            labels=["worker"],
        )
        for worker in roster.workers:
            value = getattr(worker, attribute)
            if worker.online and value is not None:
                family.add_metric([worker.hostname], value)
        yield family


class ConsoleCollector:
    """prometheus-client's custom collector: the figures of one scrape, read once."""

    def __init__(
        self,
        project: Project,
        listener: ListenerStatus | None,
        roster: WorkersView | None,
        queues: QueueLengths | None = None,
    ) -> None:
        self.project = project
        self.listener = listener
        self.roster = roster
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        has_runtime = self.project.db.engine.dialect.name in RUNTIME_DIALECTS
        yield from task_metrics(task_groups(self.project), has_runtime)
        yield from worker_metrics(self.listener, self.roster)
        yield from queue_metrics(self.queues)


def exposition(
    project: Project,
    listener: ListenerStatus | None = None,
    roster: WorkersView | None = None,
    queues: QueueLengths | None = None,
) -> bytes:
    """The Prometheus text of a fresh registry holding one `ConsoleCollector`."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ConsoleCollector(project, listener, roster, queues))
    return generate_latest(registry)


def cached_workers(site: ConsoleSite) -> WorkersView | None:
    """The roster's last table, if it holds one; read as it is, never through `view()`,
    which would start a broadcast round when the table is old."""
    return site.workers_roster().last_round()


def _queue_lengths(site: ConsoleSite, project: Project, roster: WorkersView | None) -> QueueLengths:
    """The sampler's last count while fresh, else a count now (shared for a second)."""
    from .queues import consumed_queues

    found = backlog.latest(project)
    if found is not None:
        return found
    consumers = consumed_queues(roster.workers) if roster is not None else {}
    return backlog.current(project, consumers, site.check_timeout)


def metrics_page() -> Response:
    """`GET <console>/metrics` (registered admin-only, and open to a `metrics:read` bearer
    token, by views.py)."""
    site = console_site()
    project = site.project
    assert project is not None  # set when the console is registered
    listener = site.event_listener()
    roster = cached_workers(site)
    text = exposition(
        project,
        listener.status() if listener is not None else None,
        roster,
        _queue_lengths(site, project, roster),
    )
    return Response(text, content_type=CONTENT_TYPE_LATEST)


__all__ = ["ConsoleCollector", "TaskGroup", "exposition", "metrics_page", "task_groups"]
