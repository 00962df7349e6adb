"""`LiveState`: what this console process knows from the event stream, in memory, now.

One per `ConsoleManager` and process (like the `EventListener` that feeds it): Celery's own
`celery.events.state.State`, the structure Flower keeps, gets every event the listener hears,
worker and task alike. Pages read it instead of asking the workers: rendering the workers
table costs no broadcast, whatever the number of open tabs.

A worker is online while its heartbeats arrive: each heartbeat says how often the next comes
(`freq`, Celery's default 2 s, the worker's `--heartbeat-interval`), and a worker not heard
for two of them plus `MARGIN` seconds is offline (Celery's own `Worker.alive` also allows two
periods, but counts from the worker's clock; here the console's clock of receipt counts, so
a host whose clock is off is judged right). A `worker-offline` event (a warm shutdown) makes
it offline at once. Active counts and the load averages come from the heartbeats; processed is
the `task-started` events heard plus what the heartbeats counted before (a heartbeat is up to
`freq` s old); failures are counted from `task-failed` events heard by this process.

Nothing here survives a restart: what must (the tasks' history) is stored by events.py.

    live = LiveState()
    live.feed(event)            # from the listener's thread
    live.workers()              # [WorkerLive(...)], sorted by hostname, from any thread
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from celery.events.state import State

logger = logging.getLogger(__name__)

#: Heartbeat period assumed when an event does not say (Celery's default).
DEFAULT_FREQ = 2.0
#: Heartbeats a worker may miss before it is listed offline.
MISSED = 2
#: Seconds added to `MISSED` periods: a heartbeat a little late is not an outage.
MARGIN = 1.0
#: Tasks and workers Celery's `State` keeps in memory (oldest forgotten first).
MAX_TASKS = 10_000
MAX_WORKERS = 5_000

WORKER_EVENTS = frozenset({"worker-online", "worker-heartbeat", "worker-offline"})


@dataclass(frozen=True)
class WorkerLive:
    """One worker as the event stream describes it (an immutable copy, safe to share)."""

    hostname: str
    online: bool
    #: `time.time()` of this process when the worker was last heard.
    last_heard: float
    freq: float
    processed: int | None = None
    failed: int = 0
    active: int | None = None
    #: The 1, 5 and 15 minute load averages of the worker's host.
    loadavg: tuple[float, ...] = ()
    software: str = ""


def _number(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def loadavg_of(event: dict[str, Any]) -> tuple[float, ...]:
    values = event.get("loadavg")
    if not isinstance(values, list | tuple):
        return ()
    try:
        return tuple(float(value) for value in values[:3])
    except (TypeError, ValueError):
        return ()


def freq_of(event: dict[str, Any]) -> float:
    try:
        freq = float(event.get("freq") or DEFAULT_FREQ)
    except (TypeError, ValueError):
        return DEFAULT_FREQ
    return freq if freq > 0 else DEFAULT_FREQ


@dataclass
class _Heard:
    """What the last worker event said (Celery's `State` forgets a worker that goes offline;
    the table still shows its last counts)."""

    at: float
    freq: float = DEFAULT_FREQ
    offline: bool = False
    failed: int = 0
    #: Tasks started on it, as heard by this process since it came online.
    started: int = 0
    #: What its heartbeats counted that this process did not hear start (tasks before the
    #: console listened): processed = offset + started. The largest seen wins: a heartbeat
    #: can count a little behind the `task-started` events already heard.
    offset: int | None = None
    active: int | None = None
    loadavg: tuple[float, ...] = ()
    software: str = ""

    def online(self, now: float) -> bool:
        return not self.offline and now - self.at <= MISSED * self.freq + MARGIN

    def update(self, kind: str, event: dict[str, Any], now: float) -> None:
        self.at, self.freq, self.offline = now, freq_of(event), kind == "worker-offline"
        if kind == "worker-online":  # a (re)started worker counts from 0
            self.started, self.offset = 0, None
        processed = _number(event.get("processed"))
        if processed is not None:
            offset = processed - self.started
            self.offset = offset if self.offset is None else max(self.offset, offset)
        self.active = _number(event.get("active"))
        self.loadavg = loadavg_of(event)
        parts = (event.get("sw_ident"), event.get("sw_ver"))
        self.software = " ".join(str(part) for part in parts if part)


class LiveState:
    """Celery's `State` plus, per worker, when this process heard it last; thread-safe (the
    listener's thread feeds it, request threads read it)."""

    def __init__(self, max_tasks: int = MAX_TASKS, max_workers: int = MAX_WORKERS) -> None:
        self.state = State(max_tasks_in_memory=max_tasks, max_workers_in_memory=max_workers)
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._heard: dict[str, _Heard] = {}
        #: Events fed so far (for tests and benchmarks).
        self.events = 0
        #: Called with a hostname when a worker is heard that was not online (new, or back):
        #: the workers table asks it, in the background, what events do not say.
        self.on_join: list[Callable[[str], None]] = []

    def __repr__(self) -> str:
        return f"<LiveState workers={len(self._heard)} events={self.events}>"

    def feed(self, event: dict[str, Any]) -> None:
        """Take one event as the Receiver gives it (a dict with `type`, `hostname`...)."""
        kind = str(event.get("type") or "")
        hostname = str(event.get("hostname") or "")
        now = time.time()
        event = {**event, "local_received": event.get("local_received") or now}
        joined = False
        with self._lock:
            self.events += 1
            if kind in WORKER_EVENTS and hostname:
                heard = self._heard.get(hostname)
                joined = kind != "worker-offline" and (heard is None or not heard.online(now))
                if heard is None:
                    heard = self._heard[hostname] = _Heard(now)
                heard.update(kind, event, now)
            elif kind == "task-failed" and hostname:
                self._heard.setdefault(hostname, _Heard(now)).failed += 1
            elif kind == "task-started" and hostname:
                self._heard.setdefault(hostname, _Heard(now)).started += 1
        self.state.event(event)  # Celery's State takes its own lock
        if joined:
            for callback in list(self.on_join):
                try:
                    callback(hostname)
                except Exception:
                    logger.exception("live state: on_join callback failed for %s", hostname)

    def workers(self, now: float | None = None) -> list[WorkerLive]:
        """Every worker heard since this process started, online or not, by hostname."""
        now = time.time() if now is None else now
        with self._lock:
            heard = [replace(h) for h in self._heard.values()]
            names = list(self._heard)
        result = []
        for hostname, h in sorted(zip(names, heard, strict=True), key=lambda pair: pair[0]):
            online = h.online(now)
            result.append(
                WorkerLive(
                    hostname=hostname,
                    online=online,
                    last_heard=h.at,
                    freq=h.freq,
                    processed=None if h.offset is None else h.offset + h.started,
                    failed=h.failed,
                    active=h.active if online else None,
                    loadavg=h.loadavg,
                    software=h.software,
                )
            )
        return result

    def online(self, now: float | None = None) -> dict[str, float]:
        """Hostname → when last heard, of the workers online now."""
        return {w.hostname: w.last_heard for w in self.workers(now) if w.online}
