"""`WorkersRoster`: one workers table per console process, shared by every open session.

A request never waits for the workers. The table is built, for each request, from two things
this process already holds:

- **the live state** (live.py): the workers heard on the event stream, online while their
  heartbeats arrive (offline after two missed ones), with their processed, failed and active
  counts and load averages. Reading it costs no broker call.
- **the last inspect round**: what events do not carry (pool implementation and size,
  concurrency, consumed queues) from Celery's remote control (workers.py's `snapshot`: a
  broker check and four `inspect` broadcasts), kept until the next round.

Rounds run in a daemon thread, one at a time (single flight), started by a request that finds
the round too old (`refresh_every`: `INSPECT_EVERY` s with the events listener on, `FRESH_FOR`
s without, when the round is also what says who is online), a worker heard on the stream that
no round described yet, or `forget()` (after a pool resize, a queue change, a shutdown). A
round asks by name (`destination=`) the workers it expects, so Celery stops collecting as soon
as they all replied; every `FULL_EVERY` s it asks everyone, so a worker the stream does not
announce (events off, a broker without them) still appears. A worker seen on the stream but
not yet inspected is shown with what is known.

Without the listener (`[CONSOLE] EVENTS = false`) the round alone decides: a worker that
answered the last round is online, one that answered earlier and not now is offline.

    roster = WorkersRoster(project, inspect_timeout=1.5, check_timeout=2.0, live=lambda: state)
    view = roster.view()      # a workers.WorkersView, built now (never waits for a round)
    roster.forget()           # after a pool resize, a queue change, a shutdown
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flasker.health import check_broker

from .live import LiveState, WorkerLive
from .workers import Worker, WorkersView, snapshot

if TYPE_CHECKING:
    from flasker.project import Project

logger = logging.getLogger(__name__)

#: Seconds between rounds when the round alone says who is online (no events listener).
FRESH_FOR = 2.0
#: Seconds between rounds when heartbeats say who is online: the round only refreshes pools
#: and queues, which change rarely (and an action asks for a round at once).
INSPECT_EVERY = 10.0
#: Seconds between two rounds that ask every worker, not only the expected ones.
FULL_EVERY = 10.0
#: A worker that joined (heard on the stream) is asked again after this many seconds while it
#: has not answered a round, at most `JOIN_TRIES` times: its first heartbeat can come before
#: its remote control listens.
JOIN_RETRY = 1.0
JOIN_TRIES = 10


class WorkersRoster:
    """The workers table of this process: live state plus the last inspect round.

    `live` gives the process's `LiveState` (None while the events listener is off); `heard`
    (older callers) gives hostname → time of last event of workers believed online; `seen` is
    the hostname → last-answer map of workers listed offline once silent (kept by the caller
    for the life of the process).
    """

    def __init__(
        self,
        project: Project,
        inspect_timeout: float,
        check_timeout: float,
        heard: Callable[[], Mapping[str, float]] | None = None,
        seen: dict[str, datetime] | None = None,
        live: Callable[[], LiveState | None] | None = None,
        refresh_every: float | None = None,
        full_every: float = FULL_EVERY,
    ) -> None:
        self.project = project
        self.inspect_timeout = inspect_timeout
        self.check_timeout = check_timeout
        self.heard = heard or dict
        self.live: Callable[[], LiveState | None] = live or (lambda: None)
        self.seen: dict[str, datetime] = seen if seen is not None else {}
        #: Seconds between rounds; None: `INSPECT_EVERY` with a live state, else `FRESH_FOR`.
        self.refresh_every = refresh_every
        self.full_every = full_every
        self.pid = os.getpid()
        self._condition = threading.Condition()
        self._view: WorkersView | None = None  # the last round's
        self._view_at = float("-inf")  # time.monotonic() when that round ended
        self._ended_at = float("-inf")  # time.monotonic() when the last round ended
        self._generation = 0  # bumped by forget(): a round begun before it is not kept
        self._running = False
        self._again = False  # forget() during a round: start another when it ends
        #: Hostnames that answered the last round, and when (time.time()) that round began.
        self._answered: set[str] = set()
        self._asked_at = 0.0
        self._last_full = float("-inf")  # time.monotonic()
        #: Workers that joined and did not answer a round yet → rounds they missed.
        self._joining: dict[str, int] = {}
        #: Rounds run so far (full ones included), for tests and benchmarks.
        self.rounds = 0

    def __repr__(self) -> str:
        return f"<WorkersRoster {self.project.config.name} rounds={self.rounds}>"

    def view(self) -> WorkersView:
        """The table now: built from the live state and the last round; starts a round in the
        background when one is due (never waits for it)."""
        state = self.live()
        live = state.workers() if state is not None else []
        with self._condition:
            last, joining = self._view, set(self._joining)
            if not self._running and self._due(last, live, state is not None):
                self._start(self._generation)
        if last is None:
            # no round has ended yet: a broker that is down is named at once (a connection
            # check within `check_timeout`, no broadcast), not after the first round
            broker = check_broker(self.project, self.check_timeout)
            if not broker.ok:
                workers = [
                    Worker(host, online=False, last_seen=when)
                    for host, when in sorted(self.seen.copy().items())
                ]
                return WorkersView(workers, False, broker.detail, 0.0)
        return self._compose(last, live, state is not None, joining)

    def last_round(self) -> WorkersView | None:
        """The table of the last inspect round, or None before the first one ends; never
        starts a round (for readers such as /metrics that must not cause broadcasts)."""
        with self._condition:
            return self._view

    def wait(self, timeout: float) -> bool:
        """Wait until no round runs (for tests and benchmarks); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._running or self._again:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._condition.wait(left)
        return True

    def refresh(self, hostname: str | None = None) -> None:
        """Start a round now in the background (a worker joined: `LiveState.on_join`), or
        right after the one under way."""
        with self._condition:
            if hostname is not None:
                self._joining.setdefault(hostname, 0)
            if self._running:
                self._again = True
            else:
                self._start(self._generation, full=hostname is None)

    def forget(self) -> None:
        """A worker action changed what the last round says: ask again now (the table shows
        what is known meanwhile)."""
        with self._condition:
            self._generation += 1
            self._view_at = float("-inf")
            if self._running:
                self._again = True
            else:
                self._start(self._generation)

    # -- when to ask ----------------------------------------------------------------------------
    def _due(self, last: WorkersView | None, live: list[WorkerLive], streaming: bool) -> bool:
        every = self.refresh_every
        if every is None:
            every = INSPECT_EVERY if streaming else FRESH_FOR
        if last is None or time.monotonic() - self._view_at >= every:
            return True
        if time.monotonic() - self._ended_at < FRESH_FOR:
            return False  # a worker that never answers must not keep rounds going back to back
        described = {worker.hostname for worker in last.workers if worker.online}
        return any(worker.online and worker.hostname not in described for worker in live)

    # -- one round ----------------------------------------------------------------------------
    def _start(self, generation: int, full: bool = True) -> None:
        """Begin a round in a daemon thread (the caller holds the condition); `full=False`
        (a worker joined) asks the expected workers only, so it ends as soon as they reply."""
        self._running = True
        self._again = False
        destination = self._expected()
        if destination is None or (full and time.monotonic() - self._last_full >= self.full_every):
            destination = None
        thread = threading.Thread(
            target=self._round,
            args=(generation, destination),
            name="flasker-console-workers",
            daemon=True,
        )
        thread.start()

    def _expected(self) -> list[str] | None:
        """The workers to ask by name; None (ask everyone) when none is expected."""
        expected = set(self._answered)
        expected.update(host for host, at in self.heard().items() if at >= self._asked_at)
        state = self.live()
        if state is not None:
            expected.update(state.online())
        return sorted(expected) or None

    def _round(self, generation: int, destination: list[str] | None) -> None:
        began, asked_at = time.monotonic(), time.time()
        view: WorkersView | None = None
        try:
            view = snapshot(
                self.project,
                self.seen,
                self.inspect_timeout,
                self.check_timeout,
                destination=destination,
            )
        except Exception:  # a round must end, or no later round would start
            logger.exception("the console could not ask the workers")
        finally:
            with self._condition:
                self._running = False
                self._ended_at = time.monotonic()
                self.rounds += 1
                if view is not None:
                    if destination is None:
                        self._last_full = began
                    self._answered = {w.hostname for w in view.workers if w.online}
                    self._joined(self._answered)
                    self._asked_at = asked_at
                    self._view = view
                    if generation == self._generation:
                        self._view_at = time.monotonic()
                if self._again:
                    self._start(self._generation)
                self._condition.notify_all()

    def _joined(self, answered: set[str]) -> None:
        """After a round (the caller holds the condition): ask again soon the workers that
        joined and have not answered yet."""
        for hostname in list(self._joining):
            if hostname in answered or self._joining[hostname] >= JOIN_TRIES:
                del self._joining[hostname]
            else:
                self._joining[hostname] += 1
        if self._joining and not self._again:
            timer = threading.Timer(JOIN_RETRY, self.refresh)
            timer.daemon = True
            timer.start()

    # -- the table ------------------------------------------------------------------------------
    def _compose(
        self,
        last: WorkersView | None,
        live: list[WorkerLive],
        streaming: bool,
        joining: set[str] | None = None,
    ) -> WorkersView:
        """Merge the live state (who is online, counts, load) into the last round's table
        (pool, concurrency, queues), on copies: the round's view is shared."""
        if last is None:
            last = WorkersView([], True, "", 0.0)
        if not streaming:
            return last
        inspected = {worker.hostname: worker for worker in last.workers}
        heard = {worker.hostname: worker for worker in live}
        workers: list[Worker] = []
        for hostname in sorted(inspected.keys() | heard.keys()):
            known = inspected.get(hostname) or Worker(hostname, online=False)
            stream = heard.get(hostname)
            if stream is None:  # not heard on the stream: the round's word stands
                workers.append(known)
                continue
            merged = _merged(known, stream)
            if hostname not in inspected and hostname in (joining or ()):
                merged.joining = True  # a copy: its first inspect round is under way
            workers.append(merged)
        workers.sort(key=lambda w: (not w.online, w.hostname))
        return replace(last, workers=workers)


def _merged(known: Worker, stream: WorkerLive) -> Worker:
    """The round's facts about a worker, with the stream's status, counts and load."""
    last_seen = datetime.fromtimestamp(stream.last_heard, UTC)
    if known.last_seen is not None and known.last_seen > last_seen:
        last_seen = known.last_seen
    return replace(
        known,
        online=stream.online,
        last_seen=last_seen,
        processed=stream.processed if stream.processed is not None else known.processed,
        active=(stream.active if stream.active is not None else known.active)
        if stream.online
        else None,
        load=list(stream.loadavg) or known.load,
        failed=stream.failed,
    )


def heard_from(listener: object | None) -> dict[str, float]:
    """Hostname → time of last event of the workers an `EventListener` believes online."""
    status = getattr(listener, "status", None)
    if status is None:
        return {}
    return {worker.hostname: worker.last_event for worker in status().workers if worker.online}
