"""The workers table shows each worker's registered tasks, from the background inspect rounds.

One real `flasker worker` subprocess on the embedded broker, with three tasks of the project
(one rate-limited, which Celery's `registered` answer decorates as `name [rate_limit=10/m]`):
its row counts them ("3 tasks") in a `<details>` that opens to their names, sorted, without the
decoration and without Celery's own `celery.*` tasks; and a request renders that list from the
last round, merged with the live state of the event stream, without sending any broadcast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import WorkCounter, wait_for, worker_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
WAIT = 60.0

HTMX = {"HX-Request": "true"}

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=1.5))
celery = current_project.celery


@celery.task(name="{module}.mul")
def mul(x, y):
    return x * y


@celery.task(name="{module}.add")
def add(x, y):
    return x + y


@celery.task(name="{module}.limited", rate_limit="10/m")
def limited():
    return "done"
"""


def row(page: str, hostname: str) -> str:
    """The worker's row in the table."""
    start = page.index(f'data-hostname="{hostname}"')
    return page[start : page.index("</tr>", start)]


def registered_cell(page: str, hostname: str) -> str:
    cell = row(page, hostname).split('data-testid="registered">', 1)[1]
    return cell[: cell.index("</td>")]


def table(site: ConsoleSite) -> str:
    """The table as the page's 3 s poll asks for it."""
    response = site.get("/workers/table", headers=HTMX)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


@pytest.fixture(scope="module")
def running(
    make_console: Callable[..., ConsoleSite], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ConsoleSite, str, Path]]:
    """One worker for the module: (site, its hostname, its log), once a round described it."""
    site = make_console(source=SOURCE)
    assert site.project.config.is_embedded_broker
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with worker_process(site.cfg, log, "-n", "registered@test") as process:

        def described() -> bool:
            # online from its heartbeats; its tasks once a background round asked it
            page = table(site)
            return 'data-online="true"' in page and "<details" in page

        wait_for(described, WAIT, what="the worker's registered tasks listed", log=log)
        yield site, "registered@test", log
        assert process.poll() is None, "the worker died during the tests"


def test_each_worker_shows_how_many_tasks_it_runs_and_their_names(
    running: tuple[ConsoleSite, str, Path],
) -> None:
    site, hostname, _log = running
    module = site.project.config.modules[0]
    cell = registered_cell(site.page("/workers"), hostname)

    assert "<summary>3 tasks</summary>" in cell
    names = re.findall(r'<li data-testid="registered-task"><code>([^<]*)</code></li>', cell)
    assert names == [f"{module}.add", f"{module}.limited", f"{module}.mul"]
    assert "rate_limit" not in cell
    assert "celery." not in cell  # Celery's own tasks are not the project's

    # what Celery answers, asked here directly: the rate-limited task's name is decorated,
    # so the table above did take the name out of it
    answer = site.project.celery.control.inspect(timeout=5, destination=[hostname]).registered()
    assert f"{module}.limited [rate_limit=10/m]" in answer[hostname]


def test_a_request_renders_the_registered_tasks_without_a_broadcast(
    running: tuple[ConsoleSite, str, Path],
) -> None:
    site, hostname, log = running
    module = site.project.config.modules[0]
    roster = site.app.extensions["flasker_console"].workers_roster()
    # the table is the round's facts merged with the event stream's (roster.py's `_merged`)
    wait_for(lambda: roster.live() is not None, WAIT, what="the events listener", log=log)
    roster.forget()  # a round now, so none is due during the request below
    assert roster.wait(WAIT)

    with WorkCounter(site.project) as work:
        page = table(site)
    assert work.broadcasts == 0
    cell = registered_cell(page, hostname)
    assert "<summary>3 tasks</summary>" in cell
    assert f"<code>{module}.limited</code>" in cell
