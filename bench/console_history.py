"""The console's live pages over 100,000 stored task events and 20 workers, beside Flower.

    uv run python bench/console_history.py             # both databases, 40 renders, ~30 s
    uv run python bench/console_history.py --quick     # 10 renders a page, ~20 s
    uv run python bench/console_history.py --db sqlite --no-flower -n 20

Issue 15 ("Proof"): the console's workers table and overview cost no more than Flower's
workers page, every page answers in 50 ms or less, and the task list stays flat however deep
its page and however many tasks it holds. For each database (SQLite with the embedded broker;
PostgreSQL, in a database this script creates and drops, with a redis-server of its own as
the broker) a project with the console is started in this process, then:

- 100,000 task events are stored through the listener's own write path,
  `task_events.store(project, facts, then=task_history.recorder(project))`, in batches of
  2,000 (what the listener writes each second under load): about 32,000 tasks of 6 names,
  RECEIVED, STARTED, then SUCCESS or (1 in 11) FAILURE, 1 in 25 retried once (RETRY, then
  RECEIVED and STARTED again), 3 in 10 sent by another task (parent and root), args and
  kwargs text, spread over the last 23 hours (the facts table keeps 24, so the listener's
  purge deletes none of them) across the 20 workers' hostnames. Both the facts table and the
  history (one row per task) are filled, as the listener fills them.
- 20 simulated workers: a thread sends a `worker-heartbeat` for each of 20 hostnames every
  2 s through the project's broker (Celery's `EventDispatcher`, one per hostname, as a worker
  sends them), after the console's event listener (started by the first console request) is
  connected. Nothing answers the console's background inspect rounds: the table's pool and
  queue columns stay empty (a real worker's row also has a form per queue it consumes), the
  rest comes from the heartbeats. The bench fails unless the
  workers table lists the 20 online before and after timing.
- Flower (`flasker flower`, same cfg and broker), started before the heartbeats, as the
  reference: its `/workers` page (20 workers, from the heartbeats it heard), its `/tasks`
  page (a shell; its rows come from `/tasks/datatable`, also shown) over loopback HTTP, and
  its `/healthcheck` (the HTTP round trip alone).
  Flower only knows what it heard while running: none of the 100,000 stored events, so its
  task pages are empty, and its figures are a floor for the task list, not a peer.
  `--no-flower` skips it; when it cannot start, the bench says why and goes on.

Each page is rendered through the Flask test client (the server's time, in process), one after
the other, render by render (so a busy machine slows them alike), after a warm-up render; the
htmx parts (`workers/table`, `overview/workers`, `overview/tasks`) with `HX-Request: true`.
The deep page is the list after following its "Older" link 5 times (rows 251-300). The table
gives median and p90 milliseconds, SQL statements and broker broadcasts per render (counted
by `flasker.testing.WorkCounter`, as packages/flasker-console/tests count them), and each
target. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import logging
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from load_support import loadavg, redis_server

from flasker.testing import (
    WorkCounter,
    background,
    free_port,
    log_tail,
    restored_process_state,
    wait_for,
)

EVENTS = 100_000
BATCH = 2_000
WORKERS = 20
HEARTBEAT = 2.0
#: Every page's median at most this many milliseconds.
PAGE_MS = 50.0
#: The deep page's median over the first page's at most this.
FLAT = 1.5
#: "Older" links followed to reach the deep page.
DEEP = 5
SPAN = timedelta(hours=23)
SIZES = (128, 256, 512)
HOSTS = tuple(f"worker{n:02d}@bench" for n in range(1, WORKERS + 1))
#: Task names and their weights.
NAMES = (
    ("bench.thumbnail", 40),
    ("bench.send_mail", 25),
    ("bench.resize", 15),
    ("bench.import_csv", 10),
    ("bench.report", 6),
    ("bench.cleanup", 4),
)
POSTGRES_ADMIN_URL = os.environ.get(
    "FLASKER_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

CFG = """\
[PROJECT]
NAME = BenchHistory
MODULES = {module}
DB_URL = {db_url}

[APP]
SECRET_KEY = console-history-bench-secret-0123456789
{celery}
[LOGGING]
LEVEL = ERROR
"""

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout={inspect}))
"""

TRACEBACK = """\
Traceback (most recent call last):
  File "/srv/app/tasks.py", line 42, in {name}
    raise ValueError("cannot read {path}")
ValueError: cannot read {path}
"""

ONLINE = re.compile(r'id="workers"[^>]*data-online="(\d+)"')
OLDER = re.compile(r'<a [^>]*href="([^"]+)"[^>]*data-testid="older"')
HISTORY_ROW = 'data-testid="history-'


# -- the stored events ----------------------------------------------------------------------
@dataclass
class Seeded:
    """What was written: counts, and the ids and values the pages ask for."""

    events: int = 0
    tasks: int = 0
    seconds: float = 0.0
    parent: str = ""
    search: str = ""
    names: dict[str, int] = field(default_factory=dict)


def task_facts(total: int, now: datetime, seeded: Seeded) -> Iterator[Any]:
    """`total` facts (TaskEvent), task by task in time order; fills `seeded`'s ids."""
    from flasker_console.task_events import TaskEvent

    rng = random.Random(15)
    names = [name for name, _ in NAMES]
    weights = [weight for _, weight in NAMES]
    expected_tasks = int(total / 3.15)
    step = SPAN.total_seconds() / expected_tasks
    start = now - SPAN - timedelta(minutes=5)
    made = 0
    parent_id = ""
    for number in range(expected_tasks * 2):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = rng.choices(names, weights)[0]
        host = HOSTS[rng.randrange(WORKERS)]
        at = start + timedelta(seconds=number * step + rng.random() * step / 2)
        path = f"photos/IMG_{number:06d}.jpg"
        received: dict[str, Any] = {
            "args": f"({number}, {path!r})",
            "kwargs": f"{{'size': {rng.choice(SIZES)}, 'owner': 'user-{number % 500:04d}'}}",
        }
        if number % 10 == 0:
            parent_id = task_id
        elif number % 10 in (1, 2, 3):
            received.update(parent_id=parent_id, root_id=parent_id)
        facts = [
            TaskEvent(task_id, "RECEIVED", at, name, host, tuple(received.items())),
            TaskEvent(task_id, "STARTED", at + timedelta(milliseconds=40), None, host),
        ]
        runtime = 0.05 + rng.random() * 1.5
        end = at + timedelta(seconds=0.04 + runtime)
        failure = (
            ("exception", f"ValueError('cannot read {path}')"),
            ("traceback", TRACEBACK.format(name=name.split(".")[1], path=path)),
        )
        if number % 25 == 7:
            retry_at = at + timedelta(seconds=0.5)
            facts += [
                TaskEvent(task_id, "RETRY", retry_at, None, host, failure),
                TaskEvent(
                    task_id,
                    "RECEIVED",
                    retry_at + timedelta(seconds=1),
                    name,
                    host,
                    (*received.items(), ("retries", 1)),
                ),
                TaskEvent(task_id, "STARTED", retry_at + timedelta(seconds=1.04), None, host),
            ]
            end = retry_at + timedelta(seconds=1.08 + runtime)
        if number % 11 == 3:
            facts.append(TaskEvent(task_id, "FAILURE", end, None, host, failure))
        else:
            details = (("result", f"'{path}: {runtime * 1000:.0f} ms'"), ("runtime", runtime))
            facts.append(TaskEvent(task_id, "SUCCESS", end, None, host, details))
        facts = facts[: total - made]
        made += len(facts)
        seeded.tasks += 1
        seeded.names[name] = seeded.names.get(name, 0) + 1
        if number == expected_tasks // 2 - (expected_tasks // 2) % 10:
            seeded.parent = task_id  # a task in the middle with 3 children
            seeded.search = f"IMG_{number:06d}"  # in one task's args only
        yield from facts
        if made >= total:
            return


def seed(project: Any, total: int) -> Seeded:
    """Store `total` facts as the listener does, in batches; check both tables."""
    from sqlalchemy import func, select

    from flasker_console import task_events, task_history

    seeded = Seeded()
    began = time.perf_counter()
    then = task_history.recorder(project)
    batch: list[Any] = []
    for fact in task_facts(total, datetime.now(UTC), seeded):
        batch.append(fact)
        if len(batch) == BATCH:
            seeded.events += len(task_events.store(project, batch, then=then))
            batch = []
    if batch:
        seeded.events += len(task_events.store(project, batch, then=then))
    seeded.seconds = time.perf_counter() - began
    facts_model = task_events.ensure_table(project)
    history_model = task_history.ensure_table(project)
    with project.db.engine.connect() as connection:
        stored = connection.scalar(select(func.count()).select_from(facts_model.__table__))
        tasks = connection.scalar(select(func.count()).select_from(history_model.__table__))
    if stored != total or tasks != seeded.tasks or seeded.events != total:
        fail(f"seeding: {stored} facts and {tasks} tasks stored, expected {total}, {seeded.tasks}")
    return seeded


# -- the simulated workers ------------------------------------------------------------------
class Heartbeats(threading.Thread):
    """Send a `worker-heartbeat` for each of `HOSTS` every `HEARTBEAT` s until `stop`."""

    def __init__(self, celery: Any) -> None:
        super().__init__(daemon=True, name="bench-heartbeats")
        self.celery = celery
        self.stop = threading.Event()
        self.rounds = 0
        self.error: str | None = None

    def run(self) -> None:
        import celery

        try:
            with self.celery.connection_for_write() as connection:
                dispatchers = [
                    self.celery.events.Dispatcher(connection, hostname=host) for host in HOSTS
                ]
                fields = {"sw_ident": "py-celery", "sw_ver": celery.__version__}
                fields["sw_sys"] = platform.system()
                try:
                    while not self.stop.is_set():
                        for number, dispatcher in enumerate(dispatchers):
                            dispatcher.send(
                                "worker-heartbeat",
                                freq=HEARTBEAT,
                                active=number % 3,
                                processed=1000 * (number + 1) + self.rounds,
                                loadavg=[0.5 + number / 100, 0.4, 0.3],
                                **fields,
                            )
                        self.rounds += 1
                        self.stop.wait(HEARTBEAT)
                finally:
                    for dispatcher in dispatchers:
                        with contextlib.suppress(Exception):
                            dispatcher.send("worker-offline", freq=HEARTBEAT, **fields)
                        dispatcher.close()
        except Exception as error:  # reported by the bench, which then fails
            self.error = f"{type(error).__name__}: {error}"

    def halt(self) -> None:
        self.stop.set()
        self.join(10)


# -- Flower ---------------------------------------------------------------------------------
class Flower:
    """`flasker flower` on the project's cfg, in the background, or why it is not there."""

    def __init__(self, cfg: Path, log: Path) -> None:
        self.cfg, self.log = cfg, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.problem: str | None = None
        self.process: Any = None
        self._stack = contextlib.ExitStack()

    def start(self) -> Flower:
        command = [sys.executable, "-m", "flasker", "-c", str(self.cfg), "flower"]
        command += ["--port", str(self.port)]
        self.process = self._stack.enter_context(background(command, self.log))
        try:
            wait_for(self.answers, 60, what="Flower", log=self.log, on_timeout=self._failed)
        except FlowerFailed as error:
            self.problem = str(error)
            self.stop()
        return self

    def _failed(self, message: str) -> None:
        raise FlowerFailed(message)

    def answers(self) -> bool:
        code = self.process.poll()
        if code is not None:
            raise FlowerFailed(f"flasker flower exited with status {code}: {log_tail(self.log, 3)}")
        try:
            self.get("/workers")
        except OSError:
            return False
        return True

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return str(answer.read().decode())

    def lists_every_worker(self) -> bool:
        try:
            page = self.get("/workers")
        except OSError:
            return False
        return all(host in page for host in HOSTS)

    def stop(self) -> None:
        self._stack.close()


class FlowerFailed(Exception):
    """Flower did not answer, or did not list the workers, in time."""


# -- measuring ------------------------------------------------------------------------------
@dataclass
class Row:
    label: str
    path: str
    times: list[float]
    queries: int | None = None
    broadcasts: int | None = None
    targets: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]


def fail(message: str) -> None:
    raise SystemExit(message)


def getter(project: Any, path: str, htmx: bool = False, rows: bool = False) -> Callable[[], str]:
    """GET `path` through the test client; a page that is not a 200 (or, with `rows`, lists
    no task) stops the bench."""
    client = project.app.test_client()
    headers = {"HX-Request": "true"} if htmx else {}

    def get() -> str:
        response = client.get(path, headers=headers)
        text = response.get_data(as_text=True)
        response.close()
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        if rows and HISTORY_ROW not in text:
            raise RuntimeError(f"{path} lists no task")
        return text

    return get


def flower_getter(flower: Flower, path: str) -> Callable[[], str]:
    return lambda: flower.get(path)


def measure(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Milliseconds per call of each, alternating the calls run by run."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():
        call()  # warm-up: template compilation, the first connection
    for _ in range(runs):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - began) * 1000)
    return times


def counted(project: Any, call: Callable[[], Any]) -> tuple[int, int]:
    with WorkCounter(project) as counter:
        call()
    return counter.queries, counter.broadcasts


def online(project: Any) -> int:
    text = getter(project, "/console/workers/table", htmx=True)()
    found = ONLINE.search(text)
    return int(found.group(1)) if found else -1


def deep_page(project: Any) -> str:
    """The list's URL after following its "Older" link `DEEP` times."""
    path = "/console/tasks/history"
    for _ in range(DEEP):
        found = OLDER.search(getter(project, path)())
        if found is None:
            fail(f"{path} has no Older link")
        path = html.unescape(found.group(1))
    return path


# -- one database ---------------------------------------------------------------------------
@dataclass
class Result:
    label: str
    seeded: Seeded
    rows: list[Row]
    flower_problem: str | None
    heartbeats: int


@contextlib.contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new PostgreSQL database for the run, dropped afterwards (as the tests' fixture)."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"flasker_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not answering: {error}")
    try:
        yield sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run_database(kind: str, root: Path, args: argparse.Namespace) -> Result:
    """Start, seed and measure one project (`sqlite` or `postgresql`); everything it started
    is stopped, and PostgreSQL's database dropped, before it returns."""
    from flasker import Project

    folder = root / kind
    folder.mkdir()
    module = f"bench_history_{kind}"
    (folder / f"{module}.py").write_text(
        SOURCE.format(inspect=args.inspect_timeout), encoding="utf-8"
    )
    with contextlib.ExitStack() as stack:
        if kind == "sqlite":
            db_url, celery = f"sqlite:///{folder}/bench.sqlite", ""
            label = "SQLite, embedded broker"
        else:
            db_url = stack.enter_context(fresh_postgres())
            redis = stack.enter_context(redis_server(folder / "redis"))
            celery = f"\n[CELERY]\nbroker_url = {redis.url}/0\nresult_backend = {redis.url}/1\n"
            label = "PostgreSQL, Redis broker"
        cfg = folder / "default.cfg"
        cfg.write_text(CFG.format(module=module, db_url=db_url, celery=celery), encoding="utf-8")
        stack.enter_context(restored_process_state())
        project = Project(cfg)
        project.start()
        manager = project.app.extensions["flasker_console"]
        stack.callback(manager.stop_listener)

        print(f"[{kind}] storing {args.events:,} task events ...", file=sys.stderr, flush=True)
        seeded = seed(project, args.events)
        print(
            f"[{kind}] stored in {seeded.seconds:.1f} s ({seeded.tasks:,} tasks)",
            file=sys.stderr,
            flush=True,
        )

        flower = None
        if not args.no_flower:
            print(f"[{kind}] starting Flower ...", file=sys.stderr, flush=True)
            flower = Flower(cfg, folder / "flower.log").start()
            stack.callback(flower.stop)
            if flower.problem:
                print(f"[{kind}] Flower did not start: {flower.problem}", file=sys.stderr)

        getter(project, "/console/workers/table", htmx=True)()  # starts the listener
        wait_for(
            lambda: (listener := manager.event_listener()) is not None and listener.connected,
            60,
            what="the console's event listener connected",
            on_timeout=fail,
        )
        heartbeats = Heartbeats(project.celery)
        heartbeats.start()
        stack.callback(heartbeats.halt)
        wait_for(
            lambda: heartbeats.error or online(project) == WORKERS,
            60,
            what=f"{WORKERS} workers online in the console's workers table",
            on_timeout=fail,
        )
        if heartbeats.error:
            fail(f"sending heartbeats: {heartbeats.error}")
        if flower is not None and not flower.problem:
            try:
                wait_for(
                    flower.lists_every_worker,
                    60,
                    what=f"{WORKERS} workers on Flower's workers page",
                    log=flower.log,
                    interval=0.5,
                    on_timeout=flower._failed,
                )
            except FlowerFailed as error:
                flower.problem = str(error)
        manager.workers_roster().wait(30)  # the joining workers' inspect rounds

        rows = measure_pages(project, seeded, args.runs, flower)
        still = online(project)
        if still != WORKERS:
            fail(f"[{kind}] after timing the workers table lists {still} online, not {WORKERS}")
        problem = flower.problem if flower is not None else "skipped (--no-flower)"
        if problem and flower is not None:
            problem = " / ".join(problem.splitlines()[:4])
        return Result(label, seeded, rows, problem, heartbeats.rounds)


def measure_pages(project: Any, seeded: Seeded, runs: int, flower: Flower | None) -> list[Row]:
    name = NAMES[2][0]
    history = "/console/tasks/history"
    pages: list[tuple[str, str, bool, bool]] = [  # label, path, htmx, lists tasks
        ("workers table", "/console/workers/table", True, False),
        ("overview", "/console/", False, False),
        ("overview: workers card", "/console/overview/workers", True, False),
        ("overview: tasks chart", "/console/overview/tasks", True, False),
        ("task list", history, False, True),
        (f"list: name={name}", f"{history}?name={name}", False, True),
        ("list: state=FAILURE", f"{history}?state=FAILURE", False, True),
        (f"list: worker={HOSTS[6]}", f"{history}?worker={HOSTS[6]}", False, True),
        (f"list: q={seeded.search} (1 match)", f"{history}?q={seeded.search}", False, True),
        (f"list: page {DEEP + 1} (Older x{DEEP})", deep_page(project), False, True),
        ("task detail", f"/console/tasks/{seeded.parent}", False, False),
    ]
    calls: dict[str, Callable[[], Any]] = {
        label: getter(project, path, htmx, lists) for label, path, htmx, lists in pages
    }
    flower_pages: list[tuple[str, str]] = []
    if flower is not None and not flower.problem:
        datatable = (
            "/tasks/datatable?draw=1&start=0&length=50&search%5Bvalue%5D="
            "&order%5B0%5D%5Bcolumn%5D=0&order%5B0%5D%5Bdir%5D=desc&columns%5B0%5D%5Bdata%5D=name"
        )
        flower_pages = [
            ("Flower workers (HTTP)", "/workers"),
            ("Flower tasks (HTTP)", "/tasks"),
            ("Flower tasks data (HTTP)", datatable),
            ("Flower healthcheck (HTTP)", "/healthcheck"),
        ]
        for label, path in flower_pages:
            calls[label] = flower_getter(flower, path)
    times = measure(calls, runs)
    rows = []
    for label, path, _, _ in pages:
        queries, broadcasts = counted(project, calls[label])
        rows.append(Row(label, path, times[label], queries, broadcasts))
    rows += [Row(label, path, times[label]) for label, path in flower_pages]
    judge(rows)
    return rows


def judge(rows: list[Row]) -> None:
    """Attach each row's targets (and whether it meets them)."""
    by_label = {row.label: row for row in rows}
    flower = by_label.get("Flower workers (HTTP)")
    first = by_label["task list"]
    for row in rows:
        if row.label.startswith("Flower"):
            continue
        row.targets.append((f"<= {PAGE_MS:g} ms", row.median <= PAGE_MS))
        if row.label in ("workers table", "overview") and flower is not None:
            row.targets.append((f"<= Flower {flower.median:.2f}", row.median <= flower.median))
        if row.label.startswith("list: page"):
            ratio = row.median / first.median
            row.targets.append((f"{ratio:.2f}x first <= {FLAT:g}x", ratio <= FLAT))
        if row.path.startswith("/console/tasks/history") and row is not first:
            row.targets.append((f"{first.queries} queries", row.queries == first.queries))


# -- report ---------------------------------------------------------------------------------
def print_result(result: Result, runs: int) -> list[str]:
    """The database's table; returns the targets it missed."""
    seeded = result.seeded
    print(
        f"\n{result.label}: {seeded.events:,} task events ({seeded.tasks:,} tasks) stored in "
        f"{seeded.seconds:.1f} s; {WORKERS} workers' heartbeats every {HEARTBEAT:g} s; "
        f"{runs} renders a page\n"
    )
    head = f"{'page':<36} {'median ms':>9} {'p90 ms':>7} {'queries':>7} {'bcasts':>6}  targets"
    print(head)
    print("-" * (len(head) + 50))
    missed = []
    for row in result.rows:
        marks = ", ".join(f"{'pass' if ok else 'FAIL'} ({text})" for text, ok in row.targets)
        queries = "" if row.queries is None else str(row.queries)
        broadcasts = "" if row.broadcasts is None else str(row.broadcasts)
        print(
            f"{row.label:<36} {row.median:>9.2f} {p90(row.times):>7.2f} {queries:>7} "
            f"{broadcasts:>6}  {marks}"
        )
        missed += [f"{result.label}: {row.label} {text}" for text, ok in row.targets if not ok]
    if result.flower_problem:
        print(f"Flower: not measured: {result.flower_problem}")
    return missed


NOTES = f"""\
Notes
  Console pages: server time through the Flask test client, in process (full pages, the htmx
  parts with HX-Request); Flower: an HTTP GET over loopback, round trip included.
  Flower heard the {WORKERS} workers' heartbeats and none of the stored events: its task pages
  list nothing (its /tasks is a shell whose rows come from /tasks/datatable). Its healthcheck
  answers "OK": the cost of the HTTP round trip alone, part of every Flower figure.
  queries / bcasts: SQL statements and broker broadcasts of one render after a warm-up
  (WorkCounter); a broadcast is a background inspect round that was due during the render
  (nothing answers them here). The task list's pages must all cost the first page's count.
  The deep page follows the list's Older link {DEEP} times; q= searches task ids and args/kwargs
  (a substring, in one task's args: the whole history is read to find it)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 renders a page")
    parser.add_argument("-n", "--runs", type=int, help="renders a page (default 40)")
    parser.add_argument(
        "--db",
        action="append",
        choices=("sqlite", "postgresql"),
        help="databases to run (default: both); repeatable",
    )
    parser.add_argument(
        "--events", type=int, default=EVENTS, help=f"task events to store (default {EVENTS:,})"
    )
    parser.add_argument(
        "--inspect-timeout",
        type=float,
        default=0.2,
        help="[CONSOLE] INSPECT_TIMEOUT of the background inspect rounds",
    )
    parser.add_argument("--no-flower", action="store_true", help="skip Flower's pages")
    args = parser.parse_args()
    args.runs = args.runs or (10 if args.quick else 40)
    if args.runs < 2:
        parser.error("--runs: at least 2")
    if args.events < 1000:
        parser.error("--events: at least 1,000 (the deep page needs 300 tasks per filter)")
    logging.disable(logging.WARNING)
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="flasker-history-bench-") as folder:
        for kind in args.db or ("sqlite", "postgresql"):
            results.append(run_database(kind, Path(folder), args))
    load = loadavg()
    print(f"\nConsole task history and workers benchmark (issue 15) - {load}")
    missed = []
    for result in results:
        missed += print_result(result, args.runs)
    print()
    print(NOTES)
    print(
        f"\nTargets: every page <= {PAGE_MS:g} ms median; workers table and overview <= "
        f"Flower's workers page; task list pages <= {FLAT:g}x the first page and the same "
        "number of queries."
    )
    print("Verdict: " + ("pass" if not missed else "FAIL: " + "; ".join(missed)))
    print(f"({time.monotonic() - started:.0f} s in all)")
    if missed:
        sys.exit(1)


if __name__ == "__main__":
    main()
