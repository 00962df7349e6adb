"""The every-task list and a task's page (history_views.py) behind flasker-auth: filters,
search and cursor paging at a flat query count, bad input named with a 400, a task's details,
and retry/revoke of tasks the console did not send, for admins only, in the activity log.

The tasks are stored as the listener stores them (task_events.store + the history); a real
worker's tasks are test_history_worker.py's."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from flasker.testing import WorkCounter
from flasker_console import activity, task_events, task_history, tasks
from flasker_console.task_events import TaskEvent, store

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
VIEWER = "viewer@example.test"
ADMIN = "admin@example.test"
HTMX = {"HX-Request": "true"}
NOW = datetime.now(UTC).replace(microsecond=0)


def fact(kind: str, uuid: str, at: datetime, **fields: Any) -> TaskEvent:
    found = task_events.task_event(
        {"type": kind, "uuid": uuid, "timestamp": at.timestamp(), "hostname": "w1@h"} | fields
    )
    assert found is not None
    return found


def heard(
    site: ConsoleSite,
    uuid: str,
    name: str,
    at: datetime,
    end: str | None = "task-succeeded",
    host: str = "w1@h",
    **received: Any,
) -> None:
    """A task received (and started and ended, unless `end` is None) by worker `host`."""
    facts = [fact("task-received", uuid, at, name=name, hostname=host, **received)]
    if end is not None:
        facts.append(fact("task-started", uuid, at + timedelta(seconds=1), hostname=host))
        outcome = (
            {"result": "'done'", "runtime": 0.25}
            if end == "task-succeeded"
            else {"exception": "LookupError('nope')", "traceback": "Traceback: LookupError"}
        )
        facts.append(fact(end, uuid, at + timedelta(seconds=2), hostname=host, **outcome))
    store(site.project, facts, then=task_history.recorder(site.project))


#: The task the history's retries send again (registered: only those can be sent).
TASK = """
@current_project.celery.task(name="shop.add")
def add(*args, **kwargs):
    return None
"""


@pytest.fixture(scope="module")
def auth_site(make_auth_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_auth_console(extra=TASK, console_arguments="events=False")


@pytest.fixture
def site(auth_site: ConsoleSite) -> ConsoleSite:
    auth_site.reset()
    project = auth_site.project
    for model in (task_events.ensure_table(project), task_history.ensure_table(project)):
        with project.db.engine.begin() as connection:
            connection.execute(model.__table__.delete())
    return auth_site


def sign_in(site: ConsoleSite, email: str) -> None:
    assert site.client.get(f"/test-sign-in/{email}").status_code == 200


def listed(site: ConsoleSite, query: str = "") -> list[str]:
    """The task ids the list shows, in its order."""
    response = site.get("/tasks/history" + query, headers=HTMX)
    assert response.status_code == 200, response.get_data(as_text=True)
    return re.findall(r'data-testid="history-([^"]+)"', response.get_data(as_text=True))


@pytest.fixture
def seeded(site: ConsoleSite) -> ConsoleSite:
    sign_in(site, ADMIN)
    heard(site, "a1", "shop.add", NOW - timedelta(hours=3), args="(1, 2)")
    heard(site, "b2", "shop.mail", NOW - timedelta(hours=2), "task-failed", host="w2@h")
    heard(site, "c3", "shop.add", NOW - timedelta(hours=1), kwargs="{'user': 'zoé'}")
    heard(site, "d4", "shop.mail", NOW - timedelta(minutes=5), None, args="('x@y.z',)")
    return site


def test_every_task_heard_is_listed_newest_first_and_filtered(seeded: ConsoleSite) -> None:
    site = seeded
    page = site.page("/tasks/history")
    assert 'data-testid="history-filters"' in page
    assert listed(site) == ["d4", "c3", "b2", "a1"]
    assert listed(site, "?name=shop.add") == ["c3", "a1"]
    assert listed(site, "?state=failure") == ["b2"]  # any case
    assert listed(site, "?state=RECEIVED") == ["d4"]
    assert listed(site, "?worker=w2@h") == ["b2"]
    since = (NOW - timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M")
    until = (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    assert listed(site, f"?since={since}&until={until}") == ["c3", "b2"]
    assert listed(site, f"?since={since}%2B01:00") == ["d4", "c3", "b2", "a1"]  # an offset
    assert listed(site, "?q=zo%C3%A9") == ["c3"]  # within kwargs
    assert listed(site, "?q=x@y") == ["d4"]  # within args
    assert listed(site, "?q=b") == ["b2"]  # a task id's start
    assert listed(site, "?q=%25") == []  # LIKE's wildcards are plain characters
    assert listed(site, "?name=shop.add&state=SUCCESS&q=1") == ["a1"]
    body = site.get("/tasks/history?name=nothing", headers=HTMX).get_data(as_text=True)
    assert "No task matches these filters." in body


def test_the_cursor_pages_through_at_a_flat_query_count(seeded: ConsoleSite) -> None:
    site = seeded
    for n in range(7):
        heard(site, f"e{n}", "shop.add", NOW - timedelta(days=1, minutes=n))
    seen: list[str] = []
    queries: list[int] = []
    query = "?limit=3"
    while True:
        with WorkCounter(site.project) as counter:
            response = site.get("/tasks/history" + query, headers=HTMX)
        queries.append(counter.queries)
        html = response.get_data(as_text=True)
        seen += re.findall(r'data-testid="history-([^"]+)"', html)
        older = re.search(r'rel="next" href="[^"?]*\?([^"]+)"', html)
        if older is None:
            break
        query = "?" + older.group(1).replace("&amp;", "&")
        assert "limit=3" in query  # the filters go on with the cursor
    assert seen == ["d4", "c3", "b2", "a1"] + [f"e{n}" for n in range(7)]
    assert len(queries) == 4
    assert len(set(queries)) == 1, queries  # the deep pages cost what the first one does
    # only the first page polls for new tasks
    first = site.get("/tasks/history", headers=HTMX).get_data(as_text=True)
    assert 'hx-trigger="every 3s"' in first
    assert 'hx-trigger="every 3s"' not in site.get("/tasks/history" + query).get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?state=LOST", "state: 'LOST' is not a task state"),
        ("?since=yesterday", "since: 'yesterday' is not a time"),
        ("?until=2026-13-01T00:00", "until: '2026-13-01T00:00' is not a time"),
        ("?since=2026-12-05T10:00&until=2026-12-04T10:00", "since: later than until"),
        ("?cursor=abc", "cursor: not one this list made"),
        ("?cursor=99999999999999999999_1", "cursor: not one this list made"),
        ("?limit=0", "limit: expected a whole number from 1 to 200"),
        ("?limit=201", "limit: expected a whole number from 1 to 200"),
        ("?q=" + "x" * 201, "q: longer than 200 characters"),
    ],
)
def test_bad_filters_are_named_with_a_400(seeded: ConsoleSite, query: str, named: str) -> None:
    for headers in ({}, HTMX):
        response = seeded.get("/tasks/history" + query, headers=headers)
        body = response.get_data(as_text=True)
        assert response.status_code == 400, body
        assert named in body.replace("&#39;", "'")
        assert "Traceback" not in body


def test_a_task_page_shows_what_its_events_said(seeded: ConsoleSite) -> None:
    site = seeded
    heard(site, "kid", "shop.add", NOW, parent_id="b2", root_id="a1", args="(5,)")
    page = site.page("/tasks/b2")
    assert 'data-state="FAILURE"' in page
    assert '<code data-testid="args">()</code>' in page
    assert '<dd class="col-sm-10" data-testid="worker">w2@h</dd>' in page
    assert "LookupError(&#39;nope&#39;)" in page
    assert '<pre class="small border rounded p-2" data-testid="traceback">Traceback' in page
    assert 'data-testid="retry"' in page  # an admin may send it again
    assert 'hx-trigger="every 2s"' not in page  # final: no polling
    assert "/console/tasks/kid" in page.split('data-testid="children"')[1]  # its child
    child = site.page("/tasks/kid")
    assert '<a href="/console/tasks/b2" data-testid="parent">' in child
    assert '<a href="/console/tasks/a1" data-testid="root">' in child
    assert '<code data-testid="args">(5,)</code>' in child
    assert "0.250 s" in child  # the worker's runtime
    running = site.page("/tasks/d4")
    assert 'hx-trigger="every 2s"' in running  # not final: the page follows it
    assert 'data-testid="revoke"' in running
    missing = site.get("/tasks/no-such-task")
    assert missing.status_code == 404
    assert "no task no-such-task was sent from this console or heard from a worker" in (
        missing.get_data(as_text=True)
    )


def test_an_admin_retries_and_revokes_tasks_the_console_did_not_send(
    seeded: ConsoleSite,
) -> None:
    site = seeded
    heard(site, "f5", "shop.add", NOW, "task-failed", args="(1, 'a')", kwargs="{'k': [2]}")
    token = site.form(site.page("/tasks/f5"), "retry")
    assert token["back"] == "detail"
    response = site.post("/tasks/f5/retry", data=token)
    assert response.status_code == 303, response.get_data(as_text=True)
    new_id = response.headers["Location"].rsplit("/", 1)[1]
    assert new_id != "f5"
    page = site.page(f"/tasks/{new_id}")  # sent, not heard yet: the console's own record
    assert "retry of" in page
    assert 'data-testid="notice"' in page
    row = tasks.get(site.project, new_id)
    assert (row.name, row.args, row.kwargs, row.retry_of) == (
        "shop.add",
        '[1, "a"]',
        '{"k": [2]}',
        "f5",
    )
    # the worker shortened these arguments: they cannot be sent again as they were
    # (Celery's saferepr: the text still parses, the value would be wrong)
    heard(site, "g6", "shop.add", NOW, "task-failed", args="({'k': 'vvvvvvvvvv...'},)")
    refused = site.post("/tasks/g6/retry", data=site.form(site.page("/tasks/g6"), "retry"))
    assert refused.status_code == 409
    assert "its args as the worker reported them" in refused.get_data(as_text=True)
    # a task waiting in a worker is revoked; a finished one is not
    form = site.form(site.page("/tasks/d4"), "revoke")
    revoked = site.post("/tasks/d4/revoke", data=form)
    assert revoked.status_code == 303
    assert revoked.headers["Location"].endswith("/console/tasks/d4")
    assert site.post("/tasks/a1/revoke", data=form).status_code == 409
    actions = [(e.action, e.who, e.target) for e in activity_entries(site)]
    assert ("task.retried", ADMIN, f"shop.add {new_id}") in actions
    assert ("task.revoked", ADMIN, "shop.mail d4") in actions


def activity_entries(site: ConsoleSite) -> list[Any]:
    model = activity.activity_model()
    with site.project.db.Session() as session:
        return list(session.scalars(select(model)))


def test_a_viewer_reads_the_history_and_cannot_act(seeded: ConsoleSite) -> None:
    site = seeded
    site.reset()
    sign_in(site, VIEWER)
    assert listed(site) == ["d4", "c3", "b2", "a1"]
    page = site.page("/tasks/b2")
    assert 'data-testid="retry"' not in page
    assert 'data-testid="traceback-hidden"' in page  # tracebacks are for admins
    assert "Traceback: LookupError" not in page
    assert 'data-testid="revoke"' not in site.page("/tasks/d4")
    token = site.form(site.page("/config"), "editor").get("csrf_token", "")
    before = len(activity_entries(site))
    for path in ("/tasks/b2/retry", "/tasks/d4/revoke"):
        response = site.post(path, data={"csrf_token": token, "back": "detail"})
        assert response.status_code == 403, path
    assert len(activity_entries(site)) == before
