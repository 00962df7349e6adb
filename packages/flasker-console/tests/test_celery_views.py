"""The tasks and workers views (celery_views.py), without a worker: the answer to each form
(a partial for htmx, a redirect or a page otherwise), a confirmation page where a browser
without JavaScript cannot ask, and every refusal naming what is wrong."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

ConsoleSite = Any
HTMX = {"HX-Request": "true"}

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=0.5, events=False))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x: int, y: int = 2):
    return x + y
"""


@pytest.fixture(scope="module")
def celery_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=SOURCE)


@pytest.fixture
def site(celery_site: ConsoleSite) -> ConsoleSite:
    celery_site.reset()
    return celery_site


def add_name(site: ConsoleSite) -> str:
    return f"{site.project.config.modules[0]}.add"


def token(site: ConsoleSite) -> str:
    return site.form(site.page("/tasks"), f"send-{add_name(site)}")["csrf_token"]


def error_text(answer: Any) -> str:
    found = re.search(r"<strong>(\d+):</strong> (.*?)\n", answer.get_data(as_text=True), re.S)
    assert found is not None, answer.get_data(as_text=True)[:800]
    return f"{found.group(1)}: {html.unescape(found.group(2)).strip()}"


@pytest.mark.parametrize(
    ("path", "page"), [("/tasks/list", "/console/tasks"), ("/workers/table", "/console/workers")]
)
def test_partials_send_a_browser_without_javascript_to_their_page(
    site: ConsoleSite, path: str, page: str
) -> None:
    answer = site.get(path)
    assert (answer.status_code, answer.headers["Location"]) == (302, page)


def test_a_task_sent_over_htmx_answers_what_was_sent(site: ConsoleSite) -> None:
    form = site.form(site.page("/tasks"), f"send-{add_name(site)}")
    form["arg:x"] = "40"
    answer = site.post("/tasks", data=form, headers=HTMX)
    body = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200
    sent = re.search(
        rf"Sent {re.escape(add_name(site))}\(x=40, y=2\) as task ([0-9a-f-]{{36}})\.", body
    )
    assert sent is not None, body
    assert f'data-testid="task-{sent.group(1)}" data-state="PENDING"' in body


def test_a_task_sent_without_htmx_redirects_to_the_list_naming_it(site: ConsoleSite) -> None:
    form = site.form(site.page("/tasks"), f"send-{add_name(site)}")
    form["arg:x"] = "1"
    answer = site.post("/tasks", data=form)
    assert answer.status_code == 303
    assert re.fullmatch(r"/console/tasks\?sent=[0-9a-f-]{36}", answer.headers["Location"])


def test_an_unknown_task_is_refused_by_name(site: ConsoleSite) -> None:
    answer = site.post("/tasks", data={"csrf_token": token(site), "task": "site.nope"})
    assert answer.status_code == 422
    assert error_text(answer) == "422: no task named 'site.nope' is registered in this project"


def test_retrying_or_revoking_a_task_the_console_never_sent_is_refused(
    site: ConsoleSite,
) -> None:
    data = {"csrf_token": token(site)}
    for action in ("retry", "revoke"):
        answer = site.post(f"/tasks/unknown-id/{action}", data=data, headers=HTMX)
        assert answer.status_code == 404, action
        assert error_text(answer).startswith(
            "404: no task unknown-id was sent from this console or heard from a worker"
        )


@pytest.mark.parametrize(
    ("path", "fields", "title"),
    [
        ("/workers/pool", {"change": "1"}, "Grow the pool of <code>w1@host</code> by one process?"),
        (
            "/workers/pool",
            {"change": "-1"},
            "Shrink the pool of <code>w1@host</code> by one process?",
        ),
        ("/workers/shutdown", {}, "Shut down <code>w1@host</code>?"),
    ],
)
def test_without_javascript_a_worker_action_is_confirmed_first(
    site: ConsoleSite, path: str, fields: dict[str, str], title: str
) -> None:
    answer = site.post(path, data={"csrf_token": token(site), "hostname": "w1@host", **fields})
    assert answer.status_code == 200
    assert re.findall(r'<h1 class="h4">(.*?)</h1>', answer.get_data(as_text=True)) == [title]


@pytest.mark.parametrize(
    ("path", "fields", "message"),
    [
        ("/workers/pool", {"hostname": "w1@host", "change": "2"}, "422: change: expected 1 or -1"),
        ("/workers/pool", {"hostname": "w1@host", "change": "x"}, "422: change: expected 1 or -1"),
        (
            "/workers/pool",
            {"change": "1"},
            "422: hostname: the form names no worker; reload the workers page",
        ),
        (
            "/workers/consumers",
            {"hostname": "w1@host", "queue": ""},
            "422: queue: enter the name of the queue to consume from",
        ),
        (
            "/workers/consumers/cancel",
            {"hostname": "w1@host", "queue": "a/b"},
            "422: queue: 'a/b' is not a queue name the console accepts: use letters, digits "
            "and . _ : @ - (starting with a letter or digit)",
        ),
    ],
)
def test_a_bad_worker_form_is_refused_naming_the_field(
    site: ConsoleSite, path: str, fields: dict[str, str], message: str
) -> None:
    answer = site.post(path, data={"csrf_token": token(site), **fields}, headers=HTMX)
    assert answer.status_code == 422
    assert error_text(answer) == message


def test_the_workers_table_says_no_worker_answered(site: ConsoleSite) -> None:
    answer = site.get("/workers/table", headers=HTMX)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<html" not in body
    assert re.findall(r'data-testid="no-workers">(.*?)</p>', body) == [
        "No workers answered within 0.5 s. Start one with <code>flasker worker</code> (or "
        "<code>flasker server</code>, which starts one on the embedded broker)."
    ]
