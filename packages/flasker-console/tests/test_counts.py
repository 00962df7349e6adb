"""Server work per console page stays flat as the project grows.

Two projects, small and large (3 vs 40 models behind flasker-api, 5 vs 500 tasks sent from the
console, 10 vs 1,000 activity entries), render every page; the SQL statements (a
`before_cursor_execute` listener on the project's engine) and the broker calls (the Celery
app's `control.broadcast`, which every `inspect` command goes through, and
`connection_for_write`, which broker checks and publishing open), as `flasker.testing`'s
`WorkCounter` counts them, must be the same for both.
A page whose work grows with the data (a query per row, an inspect per worker) fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flasker.testing import WorkCounter

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

#: Every page, by its path under the console's prefix.
PAGES = ("/", "/config", "/config/raw", "/tasks", "/workers", "/endpoints", "/activity")

#: A module with `count` models, the API over them, and the console (inspect answers fast:
#: no worker runs here, so every broadcast waits its whole timeout).
SOURCE = """\
from sqlalchemy import Column, ForeignKey, Integer, Unicode

from flasker import current_project
from flasker.model import Model
from flasker_api import APIManager
from flasker_console import ConsoleManager

api = current_project.register_manager(APIManager())
console = current_project.register_manager(ConsoleManager(inspect_timeout=0.2))
celery = current_project.celery
MODELS = []

for number in range({count}):
    namespace = {{
        "__tablename__": "{module}_thing_%d" % number,
        "__module__": __name__,
        "id": Column(Integer, primary_key=True),
        "name": Column(Unicode(64), nullable=False),
    }}
    if MODELS:
        namespace["parent_id"] = Column(ForeignKey(MODELS[-1].__tablename__ + ".id"))
    model = type("Thing%d" % number, (Model,), namespace)
    MODELS.append(model)
    api.add_model(model)


@celery.task(name="{module}.add")
def add(x: int, y: int = 2):
    return x + y
"""


@dataclass(frozen=True)
class Work:
    """What one page render cost the server."""

    queries: int
    broadcasts: int
    broker_connections: int


def render(site: ConsoleSite, path: str) -> Work:
    """The work of one render of `path` (after a first render that creates lazy tables)."""
    site.page(path)
    # the workers table's inspect rounds run in the background (roster.py): let the one the
    # first render started end, so that only the render itself is counted
    assert site.app.extensions["flasker_console"].workers_roster().wait(30)
    with WorkCounter(site.project) as counter:
        html = site.page(path)
    assert "Traceback" not in html
    return Work(counter.queries, counter.broadcasts, counter.connections)


def add_rows(site: ConsoleSite, tasks: int, entries: int) -> None:
    """`tasks` finished tasks sent from the console and `entries` activity entries."""
    from flasker_console import activity
    from flasker_console import tasks as store

    project = site.project
    store.ensure_table(project)
    activity.ensure_table(project)
    task, entry = store.task_model(), activity.activity_model()
    module = project.config.modules[0]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with project.db.Session() as session:
        for number in range(tasks):
            failed = number % 3 == 0
            session.add(
                task(
                    task_id=f"00000000-0000-4000-8000-{number:012d}",
                    name=f"{module}.add",
                    args=json.dumps([number]),
                    kwargs="{}",
                    sent_by="ops@example.test",
                    sent_at=start + timedelta(seconds=number),
                    state="FAILURE" if failed else "SUCCESS",
                    result=None if failed else str(number + 2),
                    error_type="LookupError" if failed else None,
                    error_message="no such thing" if failed else None,
                    done_at=start + timedelta(seconds=number + 1),
                )
            )
        for number in range(entries):
            session.add(
                entry(
                    who="ops@example.test",
                    action="cfg.saved" if number % 2 else "task.sent",
                    target=f"default.cfg [APP] {number}",
                    detail=f"-DEBUG = false\n+DEBUG = true\n# {number}",
                    at=start + timedelta(seconds=number),
                )
            )
        session.commit()


@pytest.fixture(scope="module")
def sites(make_console: Callable[..., ConsoleSite]) -> dict[str, ConsoleSite]:
    small = make_console(source=SOURCE, count=3)
    large = make_console(source=SOURCE, count=40)
    add_rows(small, tasks=5, entries=10)
    add_rows(large, tasks=500, entries=1000)
    return {"small": small, "large": large}


@pytest.mark.parametrize("path", PAGES)
def test_a_page_costs_the_same_for_a_small_and_a_large_project(
    sites: dict[str, ConsoleSite], path: str
) -> None:
    small, large = render(sites["small"], path), render(sites["large"], path)
    assert small == large, f"{path}: small project {small}, large project {large}"


def test_the_projects_really_differ_and_the_counters_count(
    sites: dict[str, ConsoleSite],
) -> None:
    """Guards the test above: the large project shows more, and each counter sees work."""
    small, large = sites["small"], sites["large"]
    # endpoints: the large API fills pages (50 rows each); its total is in the pager
    operations = small.page("/endpoints").count('data-testid="op-')
    pager = re.search(r"(\d+) of (\d+) · page 1 of", large.page("/endpoints"))
    assert pager is not None
    assert int(pager.group(1)) == 50
    assert int(pager.group(2)) > 5 * operations
    assert large.page("/activity").count("data-action=") == 50
    assert small.page("/activity").count("data-action=") == 10
    assert large.page("/tasks").count('data-testid="task-') == 25
    assert small.page("/tasks").count('data-testid="task-') == 5
    # the tasks and activity pages read the database; the workers page asks no worker (it
    # renders from the live state and the last background round, issue 15)
    assert render(large, "/tasks").queries > 0
    assert render(large, "/activity").queries > 0
    assert render(large, "/workers").broadcasts == 0
    roster = large.app.extensions["flasker_console"].workers_roster()
    assert roster.rounds > 0
