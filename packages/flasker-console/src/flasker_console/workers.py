"""The workers table's remote-control half: Celery's `inspect`, asked with short deadlines.

roster.py runs `snapshot` in a background round and merges it with the live state (live.py:
heartbeats and counts from the event stream): a request never waits for it.

One refresh costs one broker check and four broadcasts (`stats`, `active`, `active_queues`,
`registered`), sent side by side. A broadcast to everyone waits its whole timeout (nobody knows
how many workers will answer), so the four together take about one `INSPECT_TIMEOUT`; one
addressed to named workers (`destination=`) ends as soon as they all replied. A broker that
does not answer is reported within `CHECK_TIMEOUT`; nothing here raises or waits longer.
roster.py decides when to ask and whom, once for every session of the process.

Workers seen earlier by this console process and silent now are listed as offline.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flasker.health import CheckTimeout, check_broker, within

from ._parallel import side_by_side
from .exceptions import ConsoleError

if TYPE_CHECKING:
    from flasker.project import Project

#: The broadcasts of one refresh.
COMMANDS = ("stats", "active", "active_queues", "registered")


@dataclass
class Worker:
    hostname: str
    online: bool
    last_seen: datetime | None = None
    pool: str | None = None
    concurrency: int | None = None
    processes: int | None = None
    processed: int | None = None
    #: Tasks that failed on it, as heard on the event stream by this process (live.py).
    failed: int | None = None
    active: int | None = None
    queues: list[str] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    #: Names of the tasks it can run (`registered`, Celery's own `celery.*` left out), sorted.
    registered: list[str] = field(default_factory=list)
    #: Heard on the event stream, not yet asked its pool and queues (roster.py's join rounds).
    joining: bool = False

    @property
    def dom_id(self) -> str:
        """The hostname as an HTML id usable in a CSS selector (htmx finds preserved inputs
        with `#id`; `celery@host.lan` would not parse): other characters become `_hex`."""
        return "w-" + re.sub(r"[^A-Za-z0-9-]", lambda m: f"_{ord(m.group()):x}", self.hostname)


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
    project: Project,
    seen: dict[str, datetime],
    inspect_timeout: float,
    check_timeout: float,
    destination: Sequence[str] | None = None,
) -> WorkersView:
    """Every worker that answers now, and those in `seen` (hostname → last seen) that do not.

    `destination`: ask only these workers (Celery then waits for them alone, not for the
    whole timeout); None asks everyone. `seen` is updated in place (the manager keeps it for
    the life of the process).
    """
    started = time.monotonic()
    try:
        broker = check_broker(project, check_timeout)
    except Exception as error:  # a check that fails outside its own guard
        return WorkersView([], False, f"{type(error).__name__}: {error}", 0.0)
    if not broker.ok:
        return _offline(seen, broker.detail, started)
    answers = _broadcasts(project, inspect_timeout, destination)
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
    registered = answers.get("registered")
    for hostname, names in (registered if isinstance(registered, dict) else {}).items():
        if hostname in workers:
            workers[hostname].registered = _task_names(names)
    for hostname, when in seen.items():
        if hostname not in workers:
            workers[hostname] = Worker(hostname, online=False, last_seen=when)
    ordered = sorted(workers.values(), key=lambda w: (not w.online, w.hostname))
    view = WorkersView(ordered, True, broker.detail, time.monotonic() - started)
    view.problem = "; ".join(problems) or None
    return view


def _task_names(registered: Any) -> list[str]:
    """The sorted task names of a worker's `registered` answer, without the attributes Celery
    appends to a name when the task sets them: `app.add [rate_limit=10/m]` → `app.add`."""
    if not isinstance(registered, list):
        return []
    return sorted({str(item).split(" [", 1)[0].strip() for item in registered} - {""})


def _offline(seen: dict[str, datetime], detail: str, started: float) -> WorkersView:
    workers = [Worker(h, online=False, last_seen=w) for h, w in sorted(seen.items())]
    return WorkersView(workers, False, detail, time.monotonic() - started)


def _pool_name(implementation: Any) -> str | None:
    """`celery.concurrency.prefork:TaskPool` → `prefork`."""
    if not implementation:
        return None
    text = str(implementation)
    return text.split(":")[0].rsplit(".", 1)[-1]


def _broadcasts(
    project: Project, timeout: float, destination: Sequence[str] | None = None
) -> dict[str, Any]:
    """Run the inspect commands side by side; a failed one's answer is its error text.

    With `destination`, kombu collects replies until each named worker answered (its
    `limit=` is the number of destinations) or the timeout passed."""
    names = list(destination) if destination else None

    def ask(command: str) -> Callable[[], Any]:
        def call() -> Any:
            inspect = project.celery.control.inspect(timeout=timeout, destination=names)
            return getattr(inspect, command)() or {}

        return call

    return side_by_side({command: ask(command) for command in COMMANDS}, timeout, grace=2.0)


def pool_resize(project: Project, hostname: str, change: int, timeout: float) -> tuple[bool, str]:
    """Grow (`change` > 0) or shrink a worker's pool by `change` processes; wait for its reply."""
    control = project.celery.control
    method = control.pool_grow if change > 0 else control.pool_shrink
    try:
        replies = method(abs(change), destination=[hostname], reply=True, timeout=timeout)
    except Exception as error:
        return False, f"{type(error).__name__}: {error}"
    return _answer(replies, hostname) or (False, f"{hostname} did not answer within {timeout:g} s")


def _answer(replies: Any, hostname: str) -> tuple[bool, str] | None:
    """`hostname`'s answer among remote-control replies: (True, its `ok` text) or (False, its
    error); None when it did not answer."""
    for reply in replies or []:
        answer = reply.get(hostname)
        if answer is None:
            continue
        if isinstance(answer, dict) and "ok" in answer:
            return True, str(answer["ok"])
        return False, str(answer.get("error", answer) if isinstance(answer, dict) else answer)
    return None


# -- actions --------------------------------------------------------------------------------
#: A queue name the console accepts: what AMQP, Redis and the on-disk broker all take safely.
QUEUE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
#: Longest queue name (AMQP allows 255 bytes; a longer name is surely a paste gone wrong).
MAX_QUEUE_NAME = 200


class WorkerInputError(ConsoleError):
    """The form names no worker or a queue name the console refuses (the message says why)."""

    status = 422


class WorkerActionError(ConsoleError):
    """The worker refused the action (its own words are in the message)."""

    status = 409


class WorkerUnavailable(ConsoleError):
    """The broker is down, or the worker did not answer in time."""

    status = 503


def queue_name(text: str | None) -> str:
    """The queue name from a form field, or `WorkerInputError` naming what is wrong with it."""
    name = (text or "").strip()
    if not name:
        raise WorkerInputError("queue: enter the name of the queue to consume from")
    if len(name) > MAX_QUEUE_NAME:
        raise WorkerInputError(
            f"queue: {len(name)} characters is too long (at most {MAX_QUEUE_NAME})"
        )
    if not QUEUE_NAME.fullmatch(name):
        raise WorkerInputError(
            f"queue: {name!r} is not a queue name the console accepts: use letters, digits "
            "and . _ : @ - (starting with a letter or digit)"
        )
    return name


def hostname_field(text: str | None) -> str:
    """The worker's hostname from a form field (which worker answers is found by asking it)."""
    name = (text or "").strip()
    if not name or len(name) > 255:
        raise WorkerInputError("hostname: the form names no worker; reload the workers page")
    return name


def _ensure_broker(project: Project, check_timeout: float, action: str) -> None:
    broker = check_broker(project, check_timeout)
    if not broker.ok:
        raise WorkerUnavailable(f"cannot {action}: the broker is down ({broker.detail})")


def _ask(
    project: Project,
    hostname: str,
    action: str,
    command: Callable[..., Any],
    *args: Any,
    timeout: float,
    check_timeout: float,
) -> str:
    """Send a remote-control `command` (with `args`) to `hostname` only; return its `ok` text.

    The broker is checked first (down: `WorkerUnavailable` within `check_timeout`), and the
    command runs under `within(timeout + 2)`: a broker that accepts the connection and then
    stalls must not hang the page. A refusal is `WorkerActionError`, silence `WorkerUnavailable`.
    """
    _ensure_broker(project, check_timeout, action)
    try:
        replies = within(
            timeout + 2.0,
            lambda: command(*args, destination=[hostname], reply=True, timeout=timeout),
        )
    except CheckTimeout:
        raise WorkerUnavailable(
            f"{hostname}: {action}: the broker did not take the request within {timeout + 2:g} s"
        ) from None
    except Exception as error:
        raise WorkerUnavailable(f"{hostname}: {action}: {type(error).__name__}: {error}") from None
    answer = _answer(replies, hostname)
    if answer is None:
        raise WorkerUnavailable(
            f"{hostname} did not answer within {timeout:g} s: it is offline, busy, or no worker "
            "has that name (the workers table lists those that answer now)"
        )
    ok, text = answer
    if not ok:
        raise WorkerActionError(f"{hostname} refused to {action}: {text}")
    return text


def change_consumer(
    project: Project, hostname: str, queue: str, add: bool, timeout: float, check_timeout: float
) -> str:
    """Make the worker consume from `queue` too (`add`; declared if missing), or stop
    consuming from it; return its reply."""
    control = project.celery.control
    if add:
        command, action = control.add_consumer, f"add a consumer for {queue}"
    else:
        command, action = control.cancel_consumer, f"cancel its consumer of {queue}"
    return _ask(
        project, hostname, action, command, queue, timeout=timeout, check_timeout=check_timeout
    )


def shutdown(project: Project, hostname: str, timeout: float, check_timeout: float) -> str:
    """Warm shutdown: the worker stops taking tasks, finishes those it runs, then exits.

    A worker exits before it could reply to `shutdown`, so it is pinged first: its answer to
    the ping is what tells that it is there to receive the request.
    """
    control = project.celery.control
    # `control.ping` always asks for replies: `broadcast("ping")` is the same request
    action = "answer a ping before shutting down"
    _ask(
        project,
        hostname,
        action,
        control.broadcast,
        "ping",
        timeout=timeout,
        check_timeout=check_timeout,
    )
    try:
        within(timeout + 2.0, lambda: control.shutdown(destination=[hostname]))
    except Exception as error:
        raise WorkerUnavailable(
            f"{hostname}: shutdown: the broker did not take the request "
            f"({type(error).__name__}: {error})"
        ) from None
    return "warm shutdown requested: it finishes the tasks it is running, then exits"
