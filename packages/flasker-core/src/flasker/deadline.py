"""Calls run with a deadline, in daemon threads: `within` for one call, `side_by_side` for many.

A check or a page that asks the database, the broker or the workers must answer within its
deadline even when they hang. Each call runs in a daemon thread of its own, not an executor's:
a connect stuck in the kernel must not keep the process alive at exit. `flasker check` uses
`within` (through `flasker.health`); the console's pages use both.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

T = TypeVar("T")

#: What a call left in the queue: its key, whether it returned (else it raised), and the value
#: it returned or the exception it raised.
_Outcome = tuple[str, bool, Any]


class CheckTimeout(Exception):
    """A call run by `within` did not answer in time."""


def _start(key: str, call: Callable[[], Any], outcomes: queue.Queue[_Outcome], thread: str) -> None:
    """Run `call` in a daemon thread named `thread`; its outcome goes to `outcomes`."""

    def run() -> None:
        try:
            outcomes.put((key, True, call()))
        except BaseException as error:
            outcomes.put((key, False, error))

    threading.Thread(target=run, name=thread, daemon=True).start()


def within(timeout: float, function: Callable[[], T]) -> T:
    """Run `function` in a daemon thread and give up after `timeout` seconds.

    Returns what it returned, raises what it raised, or `CheckTimeout` when it is still
    running at the deadline (it is left to finish in the background).
    """
    outcomes: queue.Queue[_Outcome] = queue.Queue(maxsize=1)
    _start("", function, outcomes, "flasker-check")
    try:
        _key, returned, value = outcomes.get(timeout=timeout)
    except queue.Empty:
        raise CheckTimeout(f"no answer within {timeout:g} s") from None
    if not returned:
        raise value
    return cast(T, value)


def side_by_side(
    calls: Mapping[str, Callable[[], Any]],
    timeout: float,
    grace: float,
    *,
    then: Callable[[], None] | None = None,
    then_within: float = 30.0,
) -> dict[str, Any]:
    """Run `calls` in parallel; name -> what the call returned, or a `str` saying why not.

    Nothing here raises: a call that failed is answered by its error text, one still running
    by `no answer within {timeout} s`. The caller waits for all of them at most
    `timeout + grace` seconds: `timeout` is the deadline the calls were given (it is named in
    the text of those that did not answer); `grace` the time beyond it they may take to
    notice. `then`, when given, runs once every call has returned: before this returns when all
    answered, otherwise in a daemon thread when the late ones return (or after `then_within`
    s, whatever they do), to release what they use.
    """
    outcomes: queue.Queue[_Outcome] = queue.Queue()
    for name, call in calls.items():
        _start(name, call, outcomes, f"console-{name}")
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout + grace
    for _ in calls:
        try:
            name, returned, value = outcomes.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if returned:
            found[name] = value
        elif isinstance(value, Exception):  # a call that fails outside its own guard
            found[name] = f"{type(value).__name__}: {value}"
        # else: SystemExit and the like ended the call's thread; it gave no answer
    missing = len(calls) - len(found)
    if then is not None:
        if missing:
            threading.Thread(
                target=_when_done, args=(outcomes, missing, then_within, then), daemon=True
            ).start()
        else:
            then()
    return {name: found.get(name, f"no answer within {timeout:g} s") for name in calls}


def _when_done(
    outcomes: queue.Queue[_Outcome], missing: int, within: float, then: Callable[[], None]
) -> None:
    deadline = time.monotonic() + within
    for _ in range(missing):
        try:
            outcomes.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
    then()
