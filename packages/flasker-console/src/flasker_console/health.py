"""The overview's database and broker checks: core's `flasker check`, run side by side.

Each check has its own deadline (`[CONSOLE] CHECK_TIMEOUT`, 2 s by default) and they run in
parallel, so the overview answers within about one deadline even when both services hang.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING

from flasker.health import CheckResult, check_broker, check_database

if TYPE_CHECKING:
    from flasker.project import Project


def project_checks(project: Project, timeout: float) -> list[CheckResult]:
    """Database and broker status; never raises, never waits much longer than `timeout`."""
    checks = {"database": check_database, "broker": check_broker}
    results: queue.Queue[tuple[str, CheckResult]] = queue.Queue()

    def run(name: str) -> None:
        try:
            result = checks[name](project, timeout)
        except Exception as error:  # a check that fails outside its own guard
            result = CheckResult(name, False, f"{type(error).__name__}: {error}")
        results.put((name, result))

    for name in checks:
        # daemon threads: a connect stuck in the kernel must not keep the process alive
        threading.Thread(target=run, args=(name,), name=f"console-{name}", daemon=True).start()
    found: dict[str, CheckResult] = {}
    deadline = time.monotonic() + timeout + 1.0
    for _ in checks:
        try:
            name, result = results.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        found[name] = result
    return [
        found.get(name) or CheckResult(name, False, f"no answer within {timeout:g} s")
        for name in checks
    ]
