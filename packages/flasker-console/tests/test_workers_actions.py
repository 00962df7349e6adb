"""Workers page actions: queue consumers added and cancelled, a warm shutdown, a beat entry run
now, all on one real `flasker worker` subprocess (embedded broker); bad input and viewers are
refused without asking any worker; the Flower link or the command that starts Flower."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import wait_for, worker_process
from flasker_console import activity

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
WAIT = 60.0

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=1.5))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x, y):
    return x + y
"""


def beat_section(entries: dict[str, Any]) -> str:
    """A `[CELERY] beat_schedule` section for `make_console`, which formats the cfg: braces
    doubled, `MODULE` in a task name becomes the project's module."""
    text = json.dumps(entries).replace("{", "{{").replace("}", "}}")
    return "\n[CELERY]\nbeat_schedule = " + text.replace("MODULE", "{module}") + "\n"


#: The entry goes to a queue the worker does not consume until the console adds it.
BEAT_SECTION = beat_section(
    {
        "sum": {
            "task": "MODULE.add",
            "schedule": 3600,
            "args": [40, 2],
            "options": {"queue": "reports"},
        }
    }
)


def worker_row(page: str) -> str:
    start = page.index('data-testid="worker"')
    return page[start : page.index("</tr>", start)]


def queues(site: ConsoleSite) -> list[str]:
    page = site.page("/workers")
    return re.findall(r'data-testid="queue" data-queue="([^"]+)"', worker_row(page))


def token(page: str) -> str:
    """The CSRF token every console page carries (in `<body hx-headers>`)."""
    found = re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def actions(site: ConsoleSite) -> list[tuple[str, str]]:
    return [(row.action, row.target) for row in activity.page(site.project).rows]


# -- a real worker -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def running(
    make_console: Callable[..., ConsoleSite],
    sample_cfg: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ConsoleSite, subprocess.Popen[bytes], str, Path]]:
    """One worker for the module's real-worker tests: (site, process, hostname, log)."""
    site = make_console(cfg=sample_cfg + BEAT_SECTION, source=SOURCE)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with worker_process(site.cfg, log) as process:

        def online() -> str | None:
            # online from its heartbeats; its queues once the background round asked it
            page = site.page("/workers")
            return page if 'data-online="true"' in page and 'data-testid="queue"' in page else None

        page = wait_for(online, WAIT, what="online worker and its queue listed", log=log)
        hostname = worker_row(page).split('data-hostname="')[1].split('"')[0]
        yield site, process, hostname, log


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_admin_adds_and_cancels_a_queue_consumer_and_runs_a_beat_entry_now(
    running: tuple[ConsoleSite, subprocess.Popen[bytes], str, Path],
) -> None:
    site, _, hostname, log = running
    assert queues(site) == ["celery"]

    # htmx: the notice answers in place
    form = site.form(site.page("/workers"), f"add-consumer-{hostname}")
    added = site.post(
        "/workers/consumers", data={**form, "queue": "reports"}, headers={"HX-Request": "true"}
    )
    assert added.status_code == 200, added.get_data(as_text=True)
    assert "add consumer reports" in added.get_data(as_text=True)
    wait_for(
        lambda: queues(site) == ["celery", "reports"],
        WAIT,
        what="the reports queue listed",
        log=log,
    )

    # the beat entry goes to "reports": now consumed, it runs
    sent = site.post("/tasks/beat/run", data=site.form(site.page("/tasks"), "run-now-sum"))
    assert sent.status_code == 303, sent.get_data(as_text=True)
    task_id = sent.headers["Location"].split("sent=")[1]

    def finished() -> bool:
        listing = site.get("/tasks/list", headers={"HX-Request": "true"}).get_data(as_text=True)
        row = listing[listing.index(f'data-testid="task-{task_id}"') :]
        row = row[: row.index("</tr>")]
        return 'data-state="SUCCESS"' in row and '<code data-testid="result">42</code>' in row

    wait_for(finished, WAIT, what="SUCCESS of the beat entry run now", log=log)

    # without JavaScript: the form posts, the page comes back with the notice
    cancel = site.form(site.page("/workers"), f"cancel-{hostname}-reports")
    cancelled = site.post("/workers/consumers/cancel", data=cancel, follow_redirects=True)
    assert cancelled.status_code == 200
    assert "no longer consuming from reports" in cancelled.get_data(as_text=True)
    wait_for(lambda: queues(site) == ["celery"], WAIT, what="the reports queue gone", log=log)

    assert actions(site)[:3] == [
        ("worker.cancel_consumer", hostname),
        ("beat.run_now", f"sum {task_id}"),
        ("worker.add_consumer", hostname),
    ]
    page = site.page("/activity")
    assert "worker.add_consumer" in page
    assert "beat.run_now" in page


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_warm_shutdown_is_confirmed_then_the_worker_exits(
    running: tuple[ConsoleSite, subprocess.Popen[bytes], str, Path],
) -> None:
    site, process, hostname, log = running
    form = site.form(site.page("/workers"), f"shutdown-{hostname}")
    # htmx asks with hx-confirm; without JavaScript a page asks first and nothing happens yet
    asked = site.post("/workers/shutdown", data=form)
    assert asked.status_code == 200
    assert process.poll() is None
    confirm = site.form(asked.get_data(as_text=True), "confirm-shutdown")
    assert confirm == {**form, "confirm": "yes"}

    done = site.post("/workers/shutdown", data=confirm)
    assert done.status_code == 303, done.get_data(as_text=True)
    wait_for(lambda: process.poll() is not None, WAIT, what="worker exit", log=log)
    assert process.returncode == 0
    assert "warm shutdown" in site.page("/workers")  # the flashed notice
    row = worker_row(site.page("/workers"))
    assert 'data-online="false"' in row
    assert f'data-testid="shutdown-{hostname}"' not in row
    assert actions(site)[0] == ("worker.shutdown", hostname)

    # asking a worker that is gone: a clear answer, not a hang or a 500
    started = time.monotonic()
    again = site.post("/workers/shutdown", data=confirm, headers={"HX-Request": "true"})
    assert again.status_code == 503
    assert f"{hostname} did not answer within" in again.get_data(as_text=True)
    assert time.monotonic() - started < 8


# -- refused before any worker is asked --------------------------------------------------------
@pytest.mark.parametrize(
    ("queue", "problem"),
    [
        ("", "queue: enter the name"),
        ("   ", "queue: enter the name"),
        ("two words", "is not a queue name"),
        ("../etc", "is not a queue name"),
        ("q" * 201, "201 characters is too long"),
    ],
)
def test_bad_queue_names_are_refused(site: ConsoleSite, queue: str, problem: str) -> None:
    before = actions(site)
    fields = {"csrf_token": token(site.page("/activity")), "hostname": "w1@host", "queue": queue}
    for path in ("/workers/consumers", "/workers/consumers/cancel"):
        response = site.post(path, data=fields, headers={"HX-Request": "true"})
        assert response.status_code == 422, path
        assert problem in response.get_data(as_text=True)
        page = site.post(path, data=fields)  # without JavaScript: the error page
        assert page.status_code == 422
        assert problem in page.get_data(as_text=True)
    assert actions(site) == before


def test_an_action_for_a_worker_nobody_runs_says_so_quickly(site: ConsoleSite) -> None:
    fields = {"csrf_token": token(site.page("/activity")), "hostname": "ghost@nowhere"}
    started = time.monotonic()
    response = site.post(
        "/workers/consumers", data={**fields, "queue": "reports"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 503
    assert "ghost@nowhere did not answer within" in response.get_data(as_text=True)
    assert time.monotonic() - started < 8
    missing = site.post("/workers/shutdown", data={**fields, "hostname": " "})
    assert missing.status_code == 422
    assert "hostname: the form names no worker" in missing.get_data(as_text=True)


def test_a_broker_that_is_down_is_named_within_seconds(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    down = make_console(cfg=sample_cfg + "\n[CELERY]\nbroker_url = redis://127.0.0.1:1/0\n")
    fields = {"csrf_token": token(down.page("/activity")), "hostname": "w1@host", "queue": "q"}
    for path in ("/workers/consumers", "/workers/consumers/cancel", "/workers/shutdown"):
        started = time.monotonic()
        response = down.post(
            path, data={**fields, "confirm": "yes"}, headers={"HX-Request": "true"}
        )
        assert response.status_code == 503, path
        assert "the broker is down (redis://127.0.0.1:1/0" in response.get_data(as_text=True)
        assert time.monotonic() - started < 4
    assert actions(down) == []


def test_viewers_posts_are_refused(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    site = make_auth_console()
    assert site.client.get("/test-sign-in/viewer@example.test").get_data(as_text=True) == "viewer"
    page = site.page("/workers")
    fields = {"csrf_token": token(page), "hostname": "w1@host", "queue": "reports", "entry": "x"}
    for path in (
        "/workers/consumers",
        "/workers/consumers/cancel",
        "/workers/shutdown",
        "/tasks/beat/run",
    ):
        response = site.post(path, data={**fields, "confirm": "yes"})
        assert response.status_code == 403, path
    assert actions(site) == []


@pytest.mark.parametrize(("role", "shown"), [("viewer", False), ("admin", True)])
def test_only_admins_see_the_action_buttons(site: ConsoleSite, role: str, shown: bool) -> None:
    from flask import render_template

    from flasker_console.access import Operator
    from flasker_console.workers import Worker, WorkersView

    online = Worker("w1@host", online=True, pool="solo", queues=["celery"])
    view = WorkersView([online], True, "broker", 0.1)
    with site.app.test_request_context(site.url("/workers")):
        html = render_template(
            "flasker_console/partials/workers_table.html",
            view=view,
            operator=Operator(True, f"{role}@example.test", role, True),
        )
    for testid in ("add-consumer-w1@host", "cancel-w1@host-celery", "shutdown-w1@host"):
        assert (f'data-testid="{testid}"' in html) is shown, testid
    assert "celery" in html
    # the table swaps itself (outerHTML): its forms must not inherit that for their answer
    assert html.count('hx-target="#worker-message"') == html.count(
        'hx-target="#worker-message" hx-swap="innerHTML"'
    )


# -- Flower ------------------------------------------------------------------------------------
def test_flower_is_linked_when_its_url_is_set_else_the_page_names_the_command(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, site: ConsoleSite
) -> None:
    hint = site.page("/workers")
    assert "Open in Flower" not in hint
    assert "<code>flasker flower --url-prefix flower</code>" in hint

    linked = make_console(
        cfg=sample_cfg + "\n[CONSOLE]\nFLOWER_URL = http://127.0.0.1:5555/flower\n"
    )
    page = linked.page("/workers")
    assert (
        '<a href="http://127.0.0.1:5555/flower" target="_blank" rel="noopener">Open in Flower</a>'
        in page
    )
