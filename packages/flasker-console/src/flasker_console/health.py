"""The overview's database and broker checks: core's `flasker check`, run side by side.

Each check has its own deadline (`[CONSOLE] CHECK_TIMEOUT`, 2 s by default) and they run in
parallel, so the overview answers within about one deadline even when both services hang.

`recent_checks` is what pages ask: the checks of the last `FRESH_FOR` seconds, shared by every
request of the process (`Recent`: one request runs them, the others meanwhile take the last
answer), so twenty open tabs polling the status cost about one check a second. The overview
keeps its other answers there too (`recent(project)`: queue lengths, the cfg read, the chart).
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flasker.health import CheckResult, check_broker, check_database

from ._parallel import side_by_side

if TYPE_CHECKING:
    from flasker.project import Project

T = TypeVar("T")

#: Seconds an answer of the services (checks, queue lengths) or a read of the cfg is reused.
FRESH_FOR = 1.0


def project_checks(project: Project, timeout: float) -> list[CheckResult]:
    """Database and broker status; never raises, never waits much longer than `timeout`."""
    found = side_by_side(
        {
            "database": lambda: check_database(project, timeout),
            "broker": lambda: check_broker(project, timeout),
        },
        timeout,
        grace=1.0,
    )
    return [
        result if isinstance(result, CheckResult) else CheckResult(name, False, result)
        for name, result in found.items()
    ]


class Recent:
    """Values computed at most once per `fresh_for` seconds each, for every thread (single
    flight): the request that finds a value too old computes it; requests arriving meanwhile
    take the last value, or wait for the first one. Never more than one computation of a key
    at a time::

        checks = Recent()
        checks.get(("checks", 2.0), lambda: project_checks(project, 2.0))

    `computed` counts the computations (for tests and benchmarks). A forked child starts
    empty (the parent's lock may be held by a thread the child does not have).
    """

    def __init__(self, fresh_for: float = FRESH_FOR) -> None:
        self.fresh_for = fresh_for
        self.computed = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._ready = threading.Condition()
        self._values: dict[Hashable, tuple[float, Any]] = {}  # key → (time.monotonic(), value)
        self._running: set[Hashable] = set()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        if self._pid != os.getpid():
            self._reset()
        with self._ready:
            while True:
                found = self._values.get(key)
                if found is not None and time.monotonic() - found[0] < self.fresh_for:
                    return cast(T, found[1])
                if key not in self._running:
                    self._running.add(key)
                    break
                if found is not None:
                    return cast(
                        T, found[1]
                    )  # another request refreshes it: the last value meanwhile
                self._ready.wait(1.0)  # the first value is being computed: wait for it
        try:
            value = compute()
            with self._ready:
                self.computed += 1
                if len(self._values) > 64:  # keys that changed (other queues...): drop the old
                    self._values.clear()
                self._values[key] = (time.monotonic(), value)
            return value
        finally:
            with self._ready:
                self._running.discard(key)
                self._ready.notify_all()

    def put(self, key: Hashable, value: object) -> None:
        """Keep `value`, just computed elsewhere, as the fresh value of `key`; a value equal
        to the one kept renews it and keeps its object (what was derived from it stands)."""
        with self._ready:
            found = self._values.get(key)
            if found is not None and found[1] == value:
                value = found[1]
            self._values[key] = (time.monotonic(), value)

    def forget(self) -> None:
        """Compute every value again at its next `get`."""
        with self._ready:
            self._values.clear()


_recent: weakref.WeakKeyDictionary[Project, Recent] = weakref.WeakKeyDictionary()
_recent_lock = threading.Lock()


def recent(project: Project) -> Recent:
    """The project's `Recent` values in this process (checks, queue lengths, the cfg read)."""
    found = _recent.get(project)
    if found is None:
        with _recent_lock:
            found = _recent.setdefault(project, Recent())
    return found


def recent_checks(project: Project, timeout: float) -> list[CheckResult]:
    """`project_checks` of the last `FRESH_FOR` seconds, run by one request at a time."""
    return list(recent(project).get(("checks", timeout), lambda: project_checks(project, timeout)))
