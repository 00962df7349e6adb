"""`WorkersRoster`: one workers table per console process, shared by every open session.

The workers table polls every 3 s, and asking the workers (workers.py's `snapshot`: a broker
check and three `inspect` broadcasts) takes a broadcast round. Without sharing, 20 open tabs
meant 20 rounds at once, 60 broadcasts fighting over the broker's connection pool: each request
took seconds and, past the deadline, showed every worker offline. Here:

- **One round at a time** (single flight): concurrent requests wait for the round under way,
  or take the last table while it runs; they never start a second one.
- **A table is fresh for `FRESH_FOR` s**: every request in that window gets it without asking
  the workers again. An older one (up to `STALE_FOR` s) is still answered at once while a new
  round runs in the background, so a request waits for the workers only when there is no
  table yet, it is too old, or an action made it obsolete (`forget()`).
- **A round asks the workers it expects by name** (`destination=`): those that answered the
  last round, and those the events listener heard (a heartbeat or worker-online) since the last
  round began. Celery then stops collecting when every one of them has replied, instead of
  waiting its whole `INSPECT_TIMEOUT`; only a worker that stopped answering makes a round wait
  the timeout, once, and it is then listed offline.
- **Every `FULL_EVERY` s a round asks everyone** (no destination, the whole timeout), so a
  worker the event stream did not announce (events off, a broker without them) still appears.

So a worker that stops answering is listed offline within about `FRESH_FOR` + `INSPECT_TIMEOUT`
s after its last answer, plus the page's own 3 s poll; a new worker appears in as long after
its first heartbeat (events on), else within `FULL_EVERY` + `INSPECT_TIMEOUT` s.

    roster = WorkersRoster(project, inspect_timeout=1.5, check_timeout=2.0)
    view = roster.view()      # a workers.WorkersView, shared: do not change it
    roster.forget()           # after a pool resize, a queue change, a shutdown
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from .workers import Worker, WorkersView, snapshot

if TYPE_CHECKING:
    from flasker.project import Project

logger = logging.getLogger(__name__)

#: Seconds one table is served to every session before the workers are asked again.
FRESH_FOR = 2.0
#: Seconds an older table is still served at once while a new round runs in the background.
STALE_FOR = 30.0
#: Seconds between two rounds that ask every worker, not only the expected ones.
FULL_EVERY = 10.0
#: Seconds beyond its own deadlines (broker check + inspect timeout) a request waits for a round.
GRACE = 3.0


class WorkersRoster:
    """The last workers table of this process, refreshed one round at a time.

    `heard` gives the workers the events listener believes online (hostname → time.time() of
    their last event); `seen` is the hostname → last-answer map of workers listed offline once
    silent (kept by the caller for the life of the process).
    """

    def __init__(
        self,
        project: Project,
        inspect_timeout: float,
        check_timeout: float,
        heard: Callable[[], Mapping[str, float]] | None = None,
        seen: dict[str, datetime] | None = None,
    ) -> None:
        self.project = project
        self.inspect_timeout = inspect_timeout
        self.check_timeout = check_timeout
        self.heard = heard or dict
        self.seen: dict[str, datetime] = seen if seen is not None else {}
        self.pid = os.getpid()
        self._condition = threading.Condition()
        self._view: WorkersView | None = None
        self._view_at = 0.0  # time.monotonic() when the round of `_view` ended
        self._generation = 0  # bumped by forget(): a round begun before it is not kept
        self._running = False
        #: Hostnames that answered the last round, and when (time.time()) that round began.
        self._answered: set[str] = set()
        self._asked_at = 0.0
        self._last_full = float("-inf")  # time.monotonic()
        #: Rounds run so far (full ones included), for tests and benchmarks.
        self.rounds = 0

    def __repr__(self) -> str:
        return f"<WorkersRoster {self.project.config.name} rounds={self.rounds}>"

    def view(self) -> WorkersView:
        """The table: fresh, or stale while a new round runs, or the new round's (waited for)."""
        deadline = time.monotonic() + self.check_timeout + self.inspect_timeout + GRACE
        with self._condition:
            while True:
                now = time.monotonic()
                view, generation = self._view, self._generation
                age = now - self._view_at
                if view is not None and age < FRESH_FOR:
                    return view
                usable = view is not None and age < STALE_FOR
                if not self._running:
                    self._start(generation, waited_for=not usable)
                if usable and view is not None:
                    return view
                if now >= deadline:
                    return self._late()
                self._condition.wait(deadline - now)

    def forget(self) -> None:
        """Drop the table (a worker action changed what it shows): the next request waits for
        a round begun after this call."""
        with self._condition:
            self._generation += 1
            self._view = None

    # -- one round ----------------------------------------------------------------------------
    def _start(self, generation: int, waited_for: bool) -> None:
        """Begin a round in a daemon thread (the caller holds the condition). A round that a
        request waits for asks the expected workers when there are any; the periodic round
        that asks everyone (and waits the whole timeout) is left to a background refresh."""
        self._running = True
        destination = self._expected()
        if not waited_for and time.monotonic() - self._last_full >= FULL_EVERY:
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
        except Exception:  # a round must end, or every later request would wait in vain
            logger.exception("the console could not ask the workers")
        finally:
            with self._condition:
                self._running = False
                self.rounds += 1
                if view is not None:
                    if destination is None:
                        self._last_full = began
                    answered = {w.hostname for w in view.workers if w.online}
                    self._answered = answered
                    self._asked_at = asked_at
                    if generation == self._generation:
                        # fresh from its end: a slow round is not followed at once by another
                        self._view, self._view_at = view, time.monotonic()
                self._condition.notify_all()

    def _late(self) -> WorkersView:
        """What a request answers when no round ended in time: the workers seen earlier,
        offline, and why (the next poll asks again)."""
        waited = self.check_timeout + self.inspect_timeout + GRACE
        seen = self.seen.copy()  # a round may be adding to it
        workers = [
            Worker(host, online=False, last_seen=when) for host, when in sorted(seen.items())
        ]
        view = WorkersView(workers, True, "", waited)
        view.problem = f"the workers were not asked within {waited:g} s; the table will retry"
        return view


def heard_from(listener: object | None) -> dict[str, float]:
    """Hostname → time of last event of the workers an `EventListener` believes online."""
    status = getattr(listener, "status", None)
    if status is None:
        return {}
    return {worker.hostname: worker.last_event for worker in status().workers if worker.online}
