"""The events listener: a real `flasker worker` subprocess on the embedded broker runs tasks that
succeed and fail, and the console process, listening to Celery's events, stores what happened
(the overview's chart counts it, the console's own task rows move on without polling); a broker
that is away is reported and retried, never waited on. The facts themselves (one row per task
and state, purging) are test_task_events.py's; a broker restart is test_events_reconnect.py's."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from flasker.testing import wait_for, worker_process

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
HTMX = {"HX-Request": "true"}
#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
WAIT = 60.0

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager({arguments}))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x: int, y: int = 2):
    return x + y


@celery.task(name="{module}.boom")
def boom():
    raise LookupError("boom on purpose")
"""


def chart_counts(site: ConsoleSite) -> tuple[int, int]:
    response = site.get("/overview/tasks", headers=HTMX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    figure = body.split('data-testid="task-chart"')[1]
    succeeded = int(figure.split('data-succeeded="')[1].split('"')[0])
    failed = int(figure.split('data-failed="')[1].split('"')[0])
    return succeeded, failed


@pytest.fixture
def listening(make_console: Callable[..., ConsoleSite]) -> Iterator[ConsoleSite]:
    site = make_console(source=SOURCE)
    yield site
    site.app.extensions["flasker_console"].stop_listener()


# -- a real worker --------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_real_worker_s_events_reach_the_chart_and_the_console_s_tasks(
    listening: ConsoleSite, tmp_path: Path
) -> None:
    site = listening
    project = site.project
    module = project.config.modules[0]
    assert project.config.is_embedded_broker
    manager = site.app.extensions["flasker_console"]
    assert manager.event_listener() is None  # nothing starts before a console request
    assert chart_counts(site) == (0, 0)
    listener = manager.event_listener()
    assert listener is not None
    assert listener.is_running

    log = tmp_path / "worker.log"
    with worker_process(site.cfg, log):
        # the listener is connected before the tasks run, so it hears every event
        wait_for(lambda: listener.status().connected, WAIT, what="connected listener", log=log)
        for x in (1, 2):
            project.celery.send_task(f"{module}.add", args=[x])
        project.celery.send_task(f"{module}.boom")
        # one sent from the console: its row is SUCCESS without the task list asking the backend
        form = site.form(site.page("/tasks"), f"send-{module}.add")
        form["arg:x"] = "40"
        sent = site.post("/tasks", data=form)
        assert sent.status_code == 303, sent.get_data(as_text=True)
        task_id = sent.headers["Location"].split("sent=")[1]

        wait_for(
            lambda: chart_counts(site) == (3, 1), WAIT, what="3 succeeded and 1 failed", log=log
        )
        page = site.page("/")
        assert "3 succeeded, 1 failed in the last hour" in page

        from flasker_console import tasks

        def stored_state() -> str | None:
            with project.db.Session() as session:
                row = session.scalar(
                    select(tasks.task_model()).where(tasks.task_model().task_id == task_id)
                )
                return row.state if row.state == "SUCCESS" else None

        wait_for(stored_state, WAIT, what="SUCCESS stored from the events", log=log)
        row = tasks.get(project, task_id)
        assert row.result == "42"  # the backend's value, as the task list stores it
        assert any(w.online for w in listener.status().workers)
        # heartbeats carry the host's load averages, which `inspect stats` lacks: the workers
        # table shows them
        wait_for(
            lambda: any(w.loadavg for w in listener.status().workers),
            WAIT,
            what="a heartbeat with loadavg",
            log=log,
        )
        table = site.get("/workers/table", headers={"HX-Request": "true"}).get_data(as_text=True)
        load = re.search(r'data-testid="load">([0-9. ]+)<', table)
        assert load is not None, table
        assert len(load.group(1).split()) == 3

    # stops cleanly, within about a second, and a later request starts a new one
    started = time.monotonic()
    manager.stop_listener()
    assert not listener.is_running
    assert time.monotonic() - started < 5
    assert manager.event_listener() is None
    # its queue is unbound, so the embedded broker stops writing events for it
    table = project.config.state_folder / "broker" / "control" / "celeryev.exchange"
    bound = [binding[2] for binding in json.loads(table.read_text())]
    assert listener.queue_name
    assert listener.queue_name not in bound


@pytest.mark.timeout(60)
def test_a_broker_that_is_away_is_reported_and_retried(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    cfg = sample_cfg + "\n[CELERY]\nbroker_url = redis://127.0.0.1:9/0\n"
    site = make_console(cfg=cfg)
    manager = site.app.extensions["flasker_console"]
    started = time.monotonic()
    page = site.page("/")  # starts the listener; never waits for it
    assert time.monotonic() - started < 10
    assert 'data-testid="tasks-chart-card"' in page
    listener = manager.event_listener()
    assert listener is not None
    wait_for(lambda: listener.status().problem, WAIT, what="broker problem")
    assert listener.is_running  # still trying
    chart = site.get("/overview/tasks", headers=HTMX).get_data(as_text=True)
    assert 'data-state="reconnecting"' in chart
    assert "Not receiving the workers' events" in chart
    started = time.monotonic()
    manager.stop_listener()
    assert not listener.is_running
    assert time.monotonic() - started < 5
