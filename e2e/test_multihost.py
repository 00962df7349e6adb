"""Several hosts: the example on three network-namespace hosts, by bench/multihost.py's `run()`.

PostgreSQL and Redis on "data", `flasker server --prod` on "web", two `flasker worker` on
"workers"; the project is examples/houses with three cfg keys changed. The run checks the API,
a task started from the page's form and run on the workers host, and the console's workers
page listing both workers, then removes every namespace, process and file it made.

Needs root (`ip netns`) and the PostgreSQL server binaries: skipped without them, a failure
under CI=true. About 75 s on a loaded 2-core machine, so marked `faults` and `slow`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "multihost.py"

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _multihost() -> ModuleType:
    """bench/ is scripts, not a package: load the module by path, once."""
    name = "flasker_bench_multihost"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_the_example_runs_on_three_hosts(request: pytest.FixtureRequest) -> None:
    multihost = _multihost()
    missing = multihost.missing_prerequisite()
    if missing is not None:
        root_conftest = request.config.pluginmanager.get_plugin(str(ROOT / "conftest.py"))
        root_conftest.service_missing("network namespaces", RuntimeError(missing))
    report = multihost.run()
    print(report.table())
    assert report.ok, report.table()
    assert len(report.steps) == 15, report.table()  # none skipped: every host did its part
    run_id = f"{multihost.PREFIX}{os.getpid()}"
    names = multihost.ip("netns", "list").stdout + multihost.ip("-o", "link", "show").stdout
    assert run_id not in names  # namespaces, veths and bridge are gone
    assert not (Path(tempfile.gettempdir()) / f"{run_id}-multihost").exists()
