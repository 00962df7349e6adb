"""Celery task throughput on Redis and RabbitMQ with 1, 2 and 4 `flasker worker` processes.

    uv run python bench/tasks.py                # every set-up, 2,000 tasks a run, ~5 minutes
    uv run python bench/tasks.py --quick        # 1,000 tasks, main set-ups only
    uv run python bench/tasks.py -n 4000 --only redis

Issue 10 ("Load and scale-out"): the scaling factor from 1 to 2 to 4 worker processes on a
CPU-light task (`add(x, y)`), and what limits it on this 2-core machine.

A generated project (one module with `add`) is served by real `flasker worker` processes
(flasker.testing.worker_process: `--pool solo`, one process each; `--pool prefork -c K` for the
prefork rows). For each set-up 4 workers start once, each consuming an idle queue; a run then
publishes N tasks to a fresh queue *before* anyone consumes it, and asks 1, 2 or 4 of the
workers to consume it (`control.add_consumer`), so the workers start together on a full queue
and publishing is not measured (before it, 200 tasks warm the same workers up). The prefork
rows start one worker per K instead.

Time is measured in the workers: Celery's `task_prerun`/`task_postrun` signals in the project
module keep, per process and queue, a count and the first start and last end time, written
with one `pwrite` into a small file (microseconds a task; no broker round trip). Throughput =
N / (last end - first start) over all processes; the run ends when the counts reach N.

Workers log at WARNING, except in `defaults, INFO log`: at `flasker worker`'s default INFO,
Celery writes two lines a task (received, succeeded) to the worker's output (a file here).

CPU is read from /proc over each run: the worker processes (and their pool children), the
Redis server this script starts for itself on a free port (broker db 0, results db 1, so its
CPU is ours alone), and RabbitMQ's `beam.smp` (shared with whatever else uses the machine's
RabbitMQ). RabbitMQ runs use a vhost of their own (`rabbitmqctl add_vhost`, deleted at the end).

Set-ups (rows): `defaults` = flasker's Celery defaults (task events on, sent events,
track_started, result_extended, task_acks_late; results in Redis); `defaults, INFO log` =
the same with the workers logging at INFO, `flasker worker`'s default; `no events` = the same
without task events; `lean` = no events and `task_ignore_result` (no result written);
`lean, no backend` = no events and no result_backend at all; `lean, prefetch 64` (Celery's
default is 4); `lean, early ack` = lean with task_acks_late off;
`prefork -c K` = one worker process with a prefork pool of K children, defaults. Redis runs
every set-up; RabbitMQ runs `defaults`, `lean` and `lean, prefetch 64` (`--setup` chooses for
both).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from load_support import CpuMeter, descendants, loadavg, matching, redis_server

from flasker.testing import log_tail, worker_process

COUNTS = (1, 2, 4)
#: Tasks run through the same workers before each measured run.
WARM_UP = 200
RABBIT = "amqp://guest:guest@127.0.0.1:5672"

MODULE = '''\
"""The benchmark's task, and the marks its workers leave (see bench/tasks.py)."""

import os
import time

from celery.signals import task_postrun, task_prerun

from flasker import current_project

celery = current_project.celery
MARKS = os.environ["BENCH_TASKS_MARKS"]
_files = {}  # (pid, queue) -> [fd, count, first start]


@celery.task(name="bench_tasks.add")
def add(x, y):
    return x + y


def _queue(task):
    return (task.request.delivery_info or {}).get("routing_key") or "unknown"


@task_prerun.connect
def _started(task=None, **_kwargs):
    key = (os.getpid(), _queue(task))
    if key not in _files:
        path = os.path.join(MARKS, "%s.%d" % (key[1], key[0]))
        _files[key] = [os.open(path, os.O_WRONLY | os.O_CREAT, 0o644), 0, time.time()]


@task_postrun.connect
def _done(task=None, **_kwargs):
    mark = _files[(os.getpid(), _queue(task))]
    mark[1] += 1
    os.pwrite(mark[0], ("%d %.6f %.6f\\n" % (mark[1], mark[2], time.time())).ljust(64).encode(), 0)
'''

CFG = """\
[PROJECT]
NAME = BenchTasks
MODULES = bench_tasks
DB_URL = sqlite:///{folder}/bench.sqlite

[APP]
SECRET_KEY = tasks-bench-secret-key-0123456789

[CELERY]
broker_url = {broker}
{settings}

[LOGGING]
LEVEL = WARNING
"""


NOTES = """
procs = worker processes running tasks (solo: that many `flasker worker --pool solo`; prefork:
one `flasker worker --pool prefork -c K`, plus its parent). x 1 = tasks/s over the 1-process
row; step = over the row above (1->2, 2->4). cpu: % of one core over the run (2 cores = 200%):
workers (with prefork children; "(main)" = without them: a prefork pool's parent, which does
all of the pool's broker I/O), redis = this script's own redis-server (broker and/or results),
rabbit = the machine's RabbitMQ (shared), all = every process on the machine (/proc/stat),
other work included."""


@dataclass(frozen=True)
class Setup:
    name: str
    settings: dict[str, str]
    pool: str = "solo"
    loglevel: str = "WARNING"


SETUPS = {
    "defaults": Setup("defaults", {"result_backend": "{results}"}),
    "defaults, INFO log": Setup(
        "defaults, INFO log", {"result_backend": "{results}"}, loglevel="INFO"
    ),
    "no events": Setup(
        "no events",
        {
            "result_backend": "{results}",
            "worker_send_task_events": "false",
            "task_send_sent_event": "false",
        },
    ),
    "lean": Setup(
        "lean",
        {
            "result_backend": "{results}",
            "worker_send_task_events": "false",
            "task_send_sent_event": "false",
            "task_ignore_result": "true",
        },
    ),
    "lean, prefetch 64": Setup(
        "lean, prefetch 64",
        {
            "result_backend": "{results}",
            "worker_send_task_events": "false",
            "task_send_sent_event": "false",
            "task_ignore_result": "true",
            "worker_prefetch_multiplier": "64",
        },
    ),
    "lean, no backend": Setup(
        "lean, no backend",
        {"worker_send_task_events": "false", "task_send_sent_event": "false"},
    ),
    "lean, early ack": Setup(
        "lean, early ack",
        {
            "result_backend": "{results}",
            "worker_send_task_events": "false",
            "task_send_sent_event": "false",
            "task_ignore_result": "true",
            "task_acks_late": "false",
        },
    ),
    "prefork -c K": Setup("prefork -c K", {"result_backend": "{results}"}, pool="prefork"),
}
QUICK = ("defaults", "lean")
#: What each broker runs by default (RabbitMQ fewer, to keep the whole run bounded).
DEFAULT_SETUPS = {"redis": list(SETUPS), "rabbitmq": [*QUICK, "lean, prefetch 64"]}


@dataclass
class Run:
    workers: int
    tasks_per_s: float = 0.0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    error: str | None = None


# -- the broker ---------------------------------------------------------------------------------
@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    """A vhost of our own on the machine's RabbitMQ, guest allowed; deleted afterwards."""
    vhost = f"flasker-bench-{os.getpid()}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    try:
        subprocess.run(
            ["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
        yield f"{RABBIT}/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


def beam_pids() -> list[int]:
    return matching(lambda line: "beam.smp" in line.split(" ", 1)[0])


# -- one set-up ----------------------------------------------------------------------------------
def write_project(folder: Path, broker: str, results: str, setup: Setup) -> Path:
    folder.mkdir(parents=True)
    (folder / "bench_tasks.py").write_text(MODULE, encoding="utf-8")
    lines = [f"{key} = {value.format(results=results)}" for key, value in setup.settings.items()]
    cfg = folder / "default.cfg"
    text = CFG.format(folder=folder, broker=broker, settings="\n".join(lines))
    cfg.write_text(text, encoding="utf-8")
    return cfg


def client_app(broker: str, results: str, setup: Setup) -> Any:
    """A plain Celery app to publish and send control commands with the set-up's options."""
    from celery import Celery

    backend = results if "result_backend" in setup.settings else None
    app = Celery("bench-client", broker=broker, backend=backend, set_as_current=False)
    sent_events = setup.settings.get("task_send_sent_event", "true") == "true"
    app.conf.update(task_send_sent_event=sent_events, broker_connection_retry_on_startup=True)
    return app


def publish(app: Any, queue: str, count: int, ignore_result: bool) -> None:
    with app.producer_or_acquire() as producer:
        for number in range(count):
            app.send_task(
                "bench_tasks.add",
                args=(number, number),
                queue=queue,
                producer=producer,
                ignore_result=ignore_result,
            )


def marks(folder: Path, queue: str) -> list[tuple[int, float, float]]:
    found = []
    for path in folder.glob(f"{queue}.*"):
        text = path.read_text().strip()
        if text:
            count, first, last = text.split()
            found.append((int(count), float(first), float(last)))
    return found


def wait_ready(app: Any, names: list[str], logs: list[Path], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(destination=names, timeout=1.0)
        answered = {name for reply in replies for name in reply}
        if answered >= set(names):
            return
    tails = "\n".join(log_tail(log, 15) for log in logs)
    raise RuntimeError(f"workers {names} did not answer a ping in {timeout:g} s:\n{tails}")


def one_run(
    app: Any,
    names: list[str],
    marks_folder: Path,
    count: int,
    ignore_result: bool,
    meter: CpuMeter,
    timeout: float,
) -> Run:
    """Publish `count` tasks to a new queue, let `names` consume it, time them."""
    queue = f"bench.{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    publish(app, queue, count, ignore_result)
    print(f"  published in {time.monotonic() - began:.1f} s", file=sys.stderr)
    meter.start()
    replies = app.control.add_consumer(queue, destination=names, reply=True, timeout=5.0)
    if len(replies) < len(names):
        raise RuntimeError(f"add_consumer: {len(replies)} of {len(names)} workers answered")
    deadline = time.monotonic() + timeout
    while True:
        found = marks(marks_folder, queue)
        if sum(mark[0] for mark in found) >= count:
            break
        if time.monotonic() > deadline:
            done = sum(mark[0] for mark in found)
            raise RuntimeError(f"{done} of {count} tasks done after {timeout:g} s")
        time.sleep(0.02)
    meter.stop()
    app.control.cancel_consumer(queue, destination=names, reply=True, timeout=5.0)
    first, last = min(m[1] for m in found), max(m[2] for m in found)
    seconds = last - first
    return Run(len(names), count / seconds, seconds, meter.percent())


@contextlib.contextmanager
def workers(
    cfg: Path, folder: Path, count: int, setup: Setup, marks_folder: Path
) -> Iterator[tuple[list[str], list[Any], list[Path]]]:
    """`count` solo workers (or one prefork worker of `count` children), each on an idle queue
    of its own; their node names, processes and logs."""
    tag = uuid.uuid4().hex[:6]
    env = {"BENCH_TASKS_MARKS": str(marks_folder)}
    with contextlib.ExitStack() as stack:
        names, processes, logs = [], [], []
        pool = setup.pool
        for number in range(1 if pool == "prefork" else count):
            name = f"w{number + 1}.{tag}@bench"
            log = folder / f"worker-{tag}-{number + 1}.log"
            args = ["-n", name, "-Q", f"idle.{tag}.{number}", "--loglevel", setup.loglevel]
            if pool == "prefork":
                args += ["--concurrency", str(count)]
            process = stack.enter_context(worker_process(cfg, log, *args, pool=pool, env=env))
            names.append(name)
            processes.append(process)
            logs.append(log)
        yield names, processes, logs


def worker_sets(
    cfg: Path, folder: Path, setup: Setup, marks_folder: Path
) -> Iterator[tuple[int, tuple[list[str], list[Any], list[Path]]]]:
    """(count, workers) for each count of COUNTS: a prefork worker of that many children,
    started anew for each count; or the first `count` of max(COUNTS) solo workers, started
    once (the others idle on queues of their own)."""
    if setup.pool == "prefork":
        for workers_count in COUNTS:
            with workers(cfg, folder, workers_count, setup, marks_folder) as started:
                yield workers_count, started
        return
    with workers(cfg, folder, max(COUNTS), setup, marks_folder) as (names, processes, logs):
        for workers_count in COUNTS:
            yield workers_count, (names[:workers_count], processes[:workers_count], logs)


def measure_setup(
    broker_name: str,
    broker: str,
    results: str,
    redis_pid: int,
    setup: Setup,
    folder: Path,
    count: int,
) -> list[Run]:
    project = folder / f"{broker_name}-{setup.name.replace(' ', '-').replace(',', '')}"
    cfg = write_project(project, broker, results, setup)
    marks_folder = project / "marks"
    marks_folder.mkdir()
    app = client_app(broker, results, setup)
    ignore = setup.settings.get("task_ignore_result") == "true" or (
        "result_backend" not in setup.settings
    )
    runs: list[Run] = []
    try:
        sets = contextlib.closing(worker_sets(cfg, project, setup, marks_folder))
        # closing(): a failed run stops its workers at once, not when the generator is collected
        with sets as each:
            for workers_count, (names, processes, logs) in each:
                runs.append(
                    guarded_run(
                        app,
                        names,
                        processes,
                        logs,
                        marks_folder,
                        count,
                        ignore,
                        redis_pid,
                        workers_count,
                    )
                )
    finally:
        app.close()
    return runs


def guarded_run(
    app: Any,
    names: list[str],
    processes: list[Any],
    logs: list[Path],
    marks_folder: Path,
    count: int,
    ignore: bool,
    redis_pid: int,
    workers_count: int,
) -> Run:
    """One run; a failure is a row saying why, not a crash of the script."""
    try:
        began = time.monotonic()
        wait_ready(app, names, logs)
        print(f"  {workers_count} ready after {time.monotonic() - began:.1f} s", file=sys.stderr)
        # not measured: the first tasks of a fresh worker pay for imports and connections
        one_run(app, names, marks_folder, WARM_UP, ignore, CpuMeter({}), timeout=60)
        meter = CpuMeter(
            {
                "workers": lambda: [pid for p in processes for pid in descendants(p.pid)],
                "main": lambda: [p.pid for p in processes],
                "redis": lambda: [redis_pid],
                "rabbitmq": beam_pids,
            }
        )
        run = one_run(app, names, marks_folder, count, ignore, meter, timeout=180)
        run.workers = workers_count  # a prefork worker is one name for K processes
        return run
    except Exception as error:
        return Run(workers_count, error=f"{type(error).__name__}: {error}"[:300])


# -- the table -----------------------------------------------------------------------------------
def print_table(broker_name: str, rows: dict[str, list[Run]], count: int, load: str) -> None:
    print(f"\n{broker_name}: {count:,} tasks a run - {load}")
    head = (
        f"{'set-up':<20} {'procs':>5} {'tasks/s':>8} {'seconds':>7} {'x 1':>6} {'step':>6} "
        f"{'cpu workers':>11} {'(main)':>7} {'cpu redis':>9} {'cpu rabbit':>10} {'cpu all':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, runs in rows.items():
        by_count = {run.workers: run for run in runs if run.error is None}
        previous = None
        for run in runs:
            if run.error is not None:
                print(f"{name:<20} {run.workers:>5} failed: {run.error}")
                previous = None
                continue
            one = by_count.get(1)
            scale = f"{run.tasks_per_s / one.tasks_per_s:>5.2f}x" if one else ""
            step = f"{run.tasks_per_s / previous.tasks_per_s:>5.2f}x" if previous else ""
            cpu = run.cpu
            rabbit = f"{cpu['rabbitmq']:>9.0f}%" if "amqp" in broker_name.lower() else ""
            print(
                f"{name:<20} {run.workers:>5} {run.tasks_per_s:>8.0f} {run.seconds:>7.2f} "
                f"{scale:>6} {step:>6} {cpu['workers']:>10.0f}% {cpu['main']:>6.0f}% "
                f"{cpu['redis']:>8.0f}% {rabbit:>10} {cpu['machine']:>6.0f}%"
            )
            previous = run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--tasks", type=int, help="tasks a run (default 2,000)")
    parser.add_argument("--quick", action="store_true", help="1,000 tasks, defaults and lean")
    parser.add_argument("--only", choices=("redis", "rabbitmq"), help="one broker (default: both)")
    parser.add_argument(
        "--setup", action="append", choices=sorted(SETUPS), help="set-ups to run (repeatable)"
    )
    args = parser.parse_args()
    count = args.tasks or (1000 if args.quick else 2000)
    brokers = [args.only] if args.only else ["redis", "rabbitmq"]
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flasker-tasks-")))
        redis = stack.enter_context(redis_server(folder))
        results = f"{redis.url}/1"
        for broker_name in brokers:
            if broker_name == "redis":
                label, broker = f"Redis (own redis-server, {redis.url})", f"{redis.url}/0"
            else:
                label = f"RabbitMQ 127.0.0.1:5672 (own vhost; results in {redis.url}/1)"
                broker = stack.enter_context(rabbit_vhost())
            rows: dict[str, list[Run]] = {}
            chosen = args.setup or (list(QUICK) if args.quick else DEFAULT_SETUPS[broker_name])
            for name in chosen:
                setup = SETUPS[name]
                print(f"[{broker_name}] {name} ...", file=sys.stderr, flush=True)
                rows[name] = measure_setup(
                    broker_name, broker, results, redis.pid, setup, folder, count
                )
            print_table(
                ("AMQP " if broker_name == "rabbitmq" else "") + label, rows, count, loadavg()
            )
    print(NOTES)
    print(f"({time.monotonic() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
