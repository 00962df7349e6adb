"""Several hosts: the example on three network-namespace hosts, by bench/multihost.py's `run()`.

PostgreSQL and Redis on "data", `flasker server --prod` on "web", two `flasker worker` on
"workers"; the project is examples/houses with three cfg keys changed. The run checks the API,
a task started from the page's form and run on the workers host, and the console's workers
page listing both workers, then removes every namespace, process and file it made.

Needs root (`ip netns`) and the PostgreSQL server binaries: skipped without them, a failure
under CI=true. About 75 s on a loaded 2-core machine, so marked `faults` and `slow`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def test_the_example_runs_on_three_hosts(
    bench_script: Callable[[str], ModuleType], missing_service: Callable[..., None]
) -> None:
    multihost = bench_script("multihost")
    missing = multihost.missing_prerequisite()
    if missing is not None:
        missing_service("network namespaces", RuntimeError(missing))
    report = multihost.run()
    print(report.table())
    assert report.ok, report.table()
    assert len(report.steps) == 15, report.table()  # none skipped: every host did its part
    run_id = f"{multihost.PREFIX}{os.getpid()}"
    names = multihost.ip("netns", "list").stdout + multihost.ip("-o", "link", "show").stdout
    assert run_id not in names  # namespaces, veths and bridge are gone
    assert not (Path(tempfile.gettempdir()) / f"{run_id}-multihost").exists()
