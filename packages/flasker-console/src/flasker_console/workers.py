"""The workers table: Celery's remote control (`inspect`), asked with short deadlines.

One refresh costs one broker check and three broadcasts (`stats`, `active`, `active_queues`),
sent side by side: a broadcast without `limit=` waits its whole timeout (nobody knows how many
workers will answer), so the three together take about one `INSPECT_TIMEOUT`. A broker that
does not answer is reported within `CHECK_TIMEOUT`; nothing here raises or waits longer.

Workers seen earlier by this console process and silent now are listed as offline.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flasker.health import check_broker

if TYPE_CHECKING:
    from flasker.project import Project

#: The broadcasts of one refresh.
COMMANDS = ("stats", "active", "active_queues")


@dataclass
class Worker:
    hostname: str
    online: bool
    last_seen: datetime | None = None
    pool: str | None = None
    concurrency: int | None = None
    processes: int | None = None
    processed: int | None = None
    active: int | None = None
    queues: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)


@dataclass
class WorkersView:
    workers: list[Worker]
    broker_ok: bool
    broker_detail: str
    seconds: float
    problem: str | None = None

    @property
    def online(self) -> int:
        return sum(1 for worker in self.workers if worker.online)


def snapshot(
    project: Project, seen: dict[str, datetime], inspect_timeout: float, check_timeout: float
) -> WorkersView:
    """Every worker that answers now, and those in `seen` (hostname → last seen) that do not.

    `seen` is updated in place (the manager keeps it for the life of the process).
    """
    started = time.monotonic()
    try:
        broker = check_broker(project, check_timeout)
    except Exception as error:  # a check that fails outside its own guard
        return WorkersView([], False, f"{type(error).__name__}: {error}", 0.0)
    if not broker.ok:
        return _offline(seen, broker.detail, started)
    answers = _broadcasts(project, inspect_timeout)
    problems = [f"{name}: {answer}" for name, answer in answers.items() if isinstance(answer, str)]
    stats = answers.get("stats") if isinstance(answers.get("stats"), dict) else {}
    if problems and not stats:
        view = _offline(seen, broker.detail, started)
        view.broker_ok = True
        view.problem = "; ".join(problems)
        return view
    now = datetime.now(UTC)
    workers: dict[str, Worker] = {}
    for hostname, info in (stats or {}).items():
        seen[hostname] = now
        pool = info.get("pool") or {}
        total = info.get("total") or {}
        workers[hostname] = Worker(
            hostname=hostname,
            online=True,
            last_seen=now,
            pool=_pool_name(pool.get("implementation")),
            concurrency=pool.get("max-concurrency"),
            processes=len(pool.get("processes") or []) or None,
            processed=sum(total.values()) if isinstance(total, dict) else None,
            load=list(info.get("rusage", {}).get("loadavg", []) or info.get("loadavg") or []),
        )
    active = answers.get("active")
    for hostname, tasks in (active if isinstance(active, dict) else {}).items():
        if hostname in workers:
            workers[hostname].active = len(tasks or [])
    queues = answers.get("active_queues")
    for hostname, rows in (queues if isinstance(queues, dict) else {}).items():
        if hostname in workers:
            workers[hostname].queues = sorted(q.get("name", "?") for q in rows or [])
    for hostname, when in seen.items():
        if hostname not in workers:
            workers[hostname] = Worker(hostname, online=False, last_seen=when)
    ordered = sorted(workers.values(), key=lambda w: (not w.online, w.hostname))
    view = WorkersView(ordered, True, broker.detail, time.monotonic() - started)
    view.problem = "; ".join(problems) or None
    return view


def _offline(seen: dict[str, datetime], detail: str, started: float) -> WorkersView:
    workers = [Worker(h, online=False, last_seen=w) for h, w in sorted(seen.items())]
    return WorkersView(workers, False, detail, time.monotonic() - started)


def _pool_name(implementation: Any) -> str | None:
    """`celery.concurrency.prefork:TaskPool` → `prefork`."""
    if not implementation:
        return None
    text = str(implementation)
    return text.split(":")[0].rsplit(".", 1)[-1]


def _broadcasts(project: Project, timeout: float) -> dict[str, Any]:
    """Run the inspect commands side by side; a failed one's answer is its error text."""
    results: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run(command: str) -> None:
        try:
            inspector = project.celery.control.inspect(timeout=timeout)
            results.put((command, getattr(inspector, command)() or {}))
        except Exception as error:
            results.put((command, f"{type(error).__name__}: {error}"))

    for command in COMMANDS:
        threading.Thread(
            target=run, args=(command,), name=f"console-{command}", daemon=True
        ).start()
    answers: dict[str, Any] = {}
    deadline = time.monotonic() + timeout + 2.0
    for _ in COMMANDS:
        try:
            command, answer = results.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        answers[command] = answer
    for command in COMMANDS:
        answers.setdefault(command, f"no answer within {timeout:g} s")
    return answers


def pool_resize(project: Project, hostname: str, change: int, timeout: float) -> tuple[bool, str]:
    """Grow (`change` > 0) or shrink a worker's pool by `change` processes; wait for its reply."""
    control = project.celery.control
    method = control.pool_grow if change > 0 else control.pool_shrink
    try:
        replies = method(abs(change), destination=[hostname], reply=True, timeout=timeout) or []
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"
    for reply in replies:
        answer = reply.get(hostname)
        if answer is None:
            continue
        if "ok" in answer:
            return True, str(answer["ok"])
        return False, str(answer.get("error", answer))
    return False, f"{hostname} did not answer within {timeout:g} s"
