"""The overview's database and broker checks: core's `flasker check`, run side by side.

Each check has its own deadline (`[CONSOLE] CHECK_TIMEOUT`, 2 s by default) and they run in
parallel, so the overview answers within about one deadline even when both services hang.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flasker.health import CheckResult, check_broker, check_database

from ._parallel import side_by_side

if TYPE_CHECKING:
    from flasker.project import Project


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
