"""The tasks and workers pages without a worker: forms built from signatures, sending to the
embedded broker (tasks stay PENDING), the stored list, access rules, CSRF, broker down."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import inspect as sa_inspect

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

TASKS_SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=0.5))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x: int, y: int = 2):
    \"\"\"Add two numbers.\"\"\"
    return x + y


@celery.task(name="{module}.collect")
def collect(first, /, *rest, **options):
    return [first, rest, options]
"""


ADD_TASK = """
@celery.task(name="{module}.add")
def add(x, y=2):
    return x + y
"""

REDIS_CFG = """\
[PROJECT]
NAME = BrokerDown
MODULES = {module}
DB_URL = {db_url}

[APP]
SECRET_KEY = {secret}

[CELERY]
broker_url = redis://127.0.0.1:{port}/0
result_backend = redis://127.0.0.1:{port}/0
"""


@pytest.fixture(scope="module")
def tasks_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=TASKS_SOURCE)


@pytest.fixture
def site(tasks_site: ConsoleSite) -> ConsoleSite:
    tasks_site.reset()
    return tasks_site


def module_of(site: ConsoleSite) -> str:
    return site.project.config.modules[0]


def send(site: ConsoleSite, task: str, htmx: bool = False, **fields: str) -> Any:
    page = site.page("/tasks")
    form = site.form(page, f"send-{task}")
    form.update(fields)
    headers = {"HX-Request": "true"} if htmx else {}
    return site.post("/tasks", data=form, headers=headers)


def rows(site: ConsoleSite) -> list[Any]:
    from flasker_console.tasks import ensure_table, task_model

    ensure_table(site.project)  # created on first use: this test may come first
    model = task_model()
    with site.project.db.Session() as session:
        return list(session.query(model).order_by(model.id))


def test_the_page_builds_a_form_from_each_signature(site: ConsoleSite) -> None:
    module = module_of(site)
    page = site.page("/tasks")
    assert f"{module}.add(x: int, y: int = 2)" in page
    assert "Add two numbers." in page
    add = site.form(page, f"send-{module}.add")
    assert set(add) == {"csrf_token", "task", "arg:x", "arg:y", "countdown", "queue"}
    assert add["arg:y"] == "2"
    collect = site.form(page, f"send-{module}.collect")
    assert {"arg:first", "arg:rest", "arg:options"} <= set(collect)
    assert 'data-testid="no-sent"' in page or 'id="task-list"' in page
    # the console's own table is in the project's database, kept from flasker-api
    assert "flasker_console_tasks" in sa_inspect(site.project.db.engine).get_table_names()
    from flasker_console.tasks import task_model

    assert task_model().__api__ is False


def test_send_stores_the_task_and_lists_it_pending(site: ConsoleSite) -> None:
    module = module_of(site)
    response = send(site, f"{module}.add", **{"arg:x": "40", "countdown": "30", "queue": "q1"})
    assert response.status_code == 303
    task_id = response.headers["Location"].split("sent=")[1]
    row = next(r for r in rows(site) if r.task_id == task_id)
    assert (row.name, json.loads(row.kwargs), row.countdown, row.queue) == (
        f"{module}.add",
        {"x": 40, "y": 2},  # the default, prefilled in the form
        30.0,
        "q1",
    )
    listing = site.get("/tasks/list", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'data-testid="task-{task_id}" data-state="PENDING"' in listing
    assert 'hx-trigger="every 2s"' in listing  # polls while a task may change
    assert f"{module}.add(x=40, y=2)" in listing


def test_complex_arguments_are_json_and_positional_only_stays_positional(
    site: ConsoleSite,
) -> None:
    module = module_of(site)
    response = send(
        site,
        f"{module}.collect",
        htmx=True,
        **{"arg:first": "plain text", "arg:rest": "[1, [2]]", "arg:options": '{"k": {"a": 1}}'},
    )
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'data-testid="sent"' in body
    assert 'hx-swap-oob="true"' in body  # the list is replaced with the new row
    row = rows(site)[-1]
    assert json.loads(row.args) == ["plain text", 1, [2]]
    assert json.loads(row.kwargs) == {"k": {"a": 1}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"arg:x": ""}, "x is required"),
        ({"arg:x": "1", "countdown": "soon"}, "countdown: expected seconds"),
    ],
)
def test_invalid_input_is_refused_with_the_field_named(
    site: ConsoleSite, fields: dict[str, str], message: str
) -> None:
    before = len(rows(site))
    response = send(site, f"{module_of(site)}.add", **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert len(rows(site)) == before


def test_json_shapes_of_star_parameters_are_checked(site: ConsoleSite) -> None:
    response = send(
        site, f"{module_of(site)}.collect", htmx=True, **{"arg:first": "1", "arg:rest": "{}"}
    )
    assert response.status_code == 422
    assert "*rest: expected a JSON list" in response.get_data(as_text=True)


def test_sending_needs_the_csrf_token(site: ConsoleSite) -> None:
    before = len(rows(site))
    response = site.post("/tasks", data={"task": f"{module_of(site)}.add", "arg:x": "1"})
    assert response.status_code == 400
    assert len(rows(site)) == before


def test_revoke_a_pending_task_and_refuse_retrying_it(site: ConsoleSite) -> None:
    response = send(site, f"{module_of(site)}.add", **{"arg:x": "1", "countdown": "600"})
    task_id = response.headers["Location"].split("sent=")[1]
    page = site.page("/tasks")
    form = site.form(page, f"revoke-{task_id}")
    assert site.post(f"/tasks/{task_id}/revoke", data=form).status_code == 303
    row = next(r for r in rows(site) if r.task_id == task_id)
    assert row.revoke_requested
    assert "revoke asked" in site.page("/tasks")
    retried = site.post(f"/tasks/{task_id}/retry", data=form)
    assert retried.status_code == 409
    assert "only failed tasks are retried" in retried.get_data(as_text=True)
    assert site.post("/tasks/nope/retry", data=form).status_code == 404


def test_workers_page_says_no_workers_quickly(site: ConsoleSite) -> None:
    started = time.monotonic()
    page = site.page("/workers")
    assert time.monotonic() - started < 2.5
    assert 'data-testid="no-workers"' in page
    assert 'data-broker="up"' in page
    assert site.get("/workers/table").status_code == 302  # the partial is for htmx only
    partial = site.get("/workers/table", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 3s"' in partial.get_data(as_text=True)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def down_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(cfg=REDIS_CFG, source=TASKS_SOURCE, port=_closed_port())


def test_broker_down_is_reported_within_two_seconds(down_site: ConsoleSite) -> None:
    for path in ("/workers", "/tasks"):
        started = time.monotonic()
        response = down_site.get(path)
        assert response.status_code == 200, path
        assert time.monotonic() - started < 2.5, path
    page = down_site.page("/workers")
    assert 'data-testid="broker-down"' in page
    assert "redis://127.0.0.1:" in page
    started = time.monotonic()
    response = send(down_site, f"{module_of(down_site)}.add", **{"arg:x": "1"})
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert "the broker is down" in response.get_data(as_text=True)


# -- behind flasker-auth ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def auth_site(make_auth_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_auth_console(extra=ADD_TASK, console_arguments="inspect_timeout=0.5")


def sign_in(site: ConsoleSite, email: str) -> None:
    site.client = site.app.test_client()
    assert site.client.get(f"/test-sign-in/{email}").status_code == 200


def test_a_viewer_reads_tasks_and_workers_but_cannot_send(auth_site: ConsoleSite) -> None:
    site = auth_site
    module = module_of(site)
    sign_in(site, "admin@example.test")
    admin_form = site.form(site.page("/tasks"), f"send-{module}.add")
    sign_in(site, "viewer@example.test")
    page = site.page("/tasks")
    assert f"{module}.add(x, y=2)" in page
    assert f'data-testid="send-{module}.add"' not in page
    assert site.page("/workers")
    token = site.form(site.page("/config"))["csrf_token"]
    for path in ("/tasks", "/tasks/x/retry", "/tasks/x/revoke", "/workers/pool"):
        response = site.post(path, data={**admin_form, "csrf_token": token, "arg:x": "1"})
        assert response.status_code == 403, path
    assert rows(site) == []


def test_viewers_see_the_error_but_never_the_traceback(auth_site: ConsoleSite) -> None:
    from flasker_console.tasks import ensure_table, task_model

    site = auth_site
    ensure_table(site.project)
    model = task_model()
    with site.project.db.Session() as session:
        session.add(
            model(
                task_id="failed-1",
                name=f"{module_of(site)}.add",
                args="[]",
                kwargs='{"x": 1}',
                state="FAILURE",
                error_type="ValueError",
                error_message="bad x",
                traceback='Traceback (most recent call last):\n  File "secret_path.py"',
            )
        )
        session.commit()
    try:
        sign_in(site, "viewer@example.test")
        page = site.page("/tasks")
        assert "ValueError: bad x" in page
        assert "secret_path.py" not in page
        assert 'data-testid="retry-failed-1"' not in page
        sign_in(site, "admin@example.test")
        page = site.page("/tasks")
        assert "secret_path.py" in page
        assert 'data-testid="retry-failed-1"' in page
    finally:
        with site.project.db.Session() as session:
            session.query(model).delete()
            session.commit()
