"""Calls run side by side under one deadline, for the console's checks and broadcasts.

A page that asks the database, the broker and the workers must answer within about one
deadline even when every one of them hangs: each call runs in its own daemon thread (a connect
stuck in the kernel must not keep the process alive at exit) and the caller waits for all of
them at most `timeout + grace` seconds. Nothing here raises: a call that failed is answered by
its error text, one still running by `no answer within {timeout} s`.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any


def side_by_side(
    calls: Mapping[str, Callable[[], Any]],
    timeout: float,
    grace: float,
    *,
    then: Callable[[], None] | None = None,
    then_within: float = 30.0,
) -> dict[str, Any]:
    """Run `calls` in parallel; name -> what the call returned, or a `str` saying why not.

    `timeout` is the deadline the calls were given (it is named in the text of those that did
    not answer); `grace` the time beyond it they may take to notice. `then`, when given, runs
    once every call has returned: before this returns when all answered, otherwise in a
    daemon thread when the late ones return (or after `then_within` s, whatever they do), to
    release what they use.
    """
    results: queue.Queue[tuple[str, Any]] = queue.Queue()

    def run(name: str) -> None:
        try:
            value = calls[name]()
        except Exception as error:  # a call that fails outside its own guard
            value = f"{type(error).__name__}: {error}"
        results.put((name, value))

    for name in calls:
        threading.Thread(target=run, args=(name,), name=f"console-{name}", daemon=True).start()
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout + grace
    for _ in calls:
        try:
            name, value = results.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        found[name] = value
    missing = len(calls) - len(found)
    if then is not None:
        if missing:
            threading.Thread(
                target=_when_done, args=(results, missing, then_within, then), daemon=True
            ).start()
        else:
            then()
    return {name: found.get(name, f"no answer within {timeout:g} s") for name in calls}


def _when_done(
    results: queue.Queue[tuple[str, Any]], missing: int, within: float, then: Callable[[], None]
) -> None:
    deadline = time.monotonic() + within
    for _ in range(missing):
        try:
            results.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
    then()
