"""Per-task limits from the tasks page (task_limits.py, limits_views.py): a rate limit and
soft/hard time limits set on a real `flasker worker` subprocess (embedded broker), which then
reports them; each worker's reply shown and logged; bad input refused (422 naming the field)
before anything is sent; viewers refused; no worker or no broker said within seconds."""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import wait_for, worker_process
from flasker_console import activity
from flasker_console.task_limits import (
    LimitInputError,
    Reply,
    rate_field,
    replies_of,
    time_fields,
)

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
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
HTMX = {"HX-Request": "true"}


def task_name(site: ConsoleSite) -> str:
    found = re.search(r'data-testid="rate-limit-([\w.]+\.add)"', site.page("/tasks"))
    assert found, "no limits form on the tasks page"
    return found.group(1)


def rate_form(site: ConsoleSite, **values: str) -> dict[str, str]:
    form = site.form(site.page("/tasks"), f"rate-limit-{task_name(site)}")
    return {**form, **values}


def time_form(site: ConsoleSite, **values: str) -> dict[str, str]:
    form = site.form(site.page("/tasks"), f"time-limit-{task_name(site)}")
    return {**form, **values}


def logged(site: ConsoleSite) -> list[tuple[str, str, Any]]:
    rows = activity.page(site.project).rows
    return [(row.action, row.target, json.loads(row.detail)) for row in rows]


def reported(site: ConsoleSite, hostname: str, name: str) -> str:
    """What the worker says of the task's limits (`inspect registered` with those fields)."""
    inspect = site.project.celery.control.inspect(timeout=5.0, destination=[hostname])
    answer = inspect.registered("rate_limit", "soft_time_limit", "time_limit") or {}
    [entry] = [line for line in answer.get(hostname, []) if line.split(" ")[0] == name]
    return str(entry)


# -- a real worker -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def running(
    make_console: Callable[..., ConsoleSite],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ConsoleSite, str, Path]]:
    """One worker for the module's real-worker tests: (site, hostname, log)."""
    site = make_console(source=SOURCE)
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with worker_process(site.cfg, log):

        def online() -> str | None:
            page = site.page("/workers")
            found = re.search(r'data-testid="worker"[^>]*data-hostname="([^"]+)"', page)
            return found.group(1) if found and 'data-online="true"' in page else None

        hostname = wait_for(online, WAIT, what="online worker on the workers page", log=log)
        yield site, hostname, log


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_admin_sets_a_rate_limit_and_the_worker_reports_it(
    running: tuple[ConsoleSite, str, Path],
) -> None:
    site, hostname, _ = running
    name = task_name(site)
    assert reported(site, hostname, name) == name  # no limit declared

    answer = site.post("/tasks/limits", data=rate_form(site, rate_limit="10/m"), headers=HTMX)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    shown = answer.get_data(as_text=True)
    assert "rate limit 10/m, sent to 1 worker(s)" in shown
    assert (
        f'data-worker="{hostname}" data-ok="true"><code>{hostname}</code>: '
        "new rate limit set successfully</li>"
    ) in shown
    assert reported(site, hostname, name) == f"{name} [rate_limit=10/m]"

    # a bad rate afterwards: refused, nothing sent, the worker keeps 10/m
    refused = site.post("/tasks/limits", data=rate_form(site, rate_limit="10/x"), headers=HTMX)
    assert refused.status_code == 422
    assert reported(site, hostname, name) == f"{name} [rate_limit=10/m]"

    # without JavaScript: back to the tasks page, which shows the replies
    cleared = site.post("/tasks/limits", data=rate_form(site, rate_limit=""))
    assert cleared.status_code == 303
    page = site.page("/tasks")
    assert (
        f"{name}: rate limit none sent to 1 worker(s): {hostname}: "
        "rate limit disabled successfully."
    ) in page
    assert reported(site, hostname, name) == name

    assert logged(site)[:2] == [
        (
            "task.rate_limit",
            name,
            {"rate_limit": None, "replies": {hostname: {"ok": "rate limit disabled successfully"}}},
        ),
        (
            "task.rate_limit",
            name,
            {
                "rate_limit": "10/m",
                "replies": {hostname: {"ok": "new rate limit set successfully"}},
            },
        ),
    ]
    assert "task.rate_limit" in site.page("/activity")


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_an_admin_sets_time_limits_and_the_worker_reports_them(
    running: tuple[ConsoleSite, str, Path],
) -> None:
    site, hostname, _ = running
    name = task_name(site)
    form = time_form(site, soft_time_limit="5", time_limit="12.5")
    answer = site.post("/tasks/limits", data=form, headers=HTMX)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "time limits soft 5 s, hard 12.5 s, sent to 1 worker(s)" in answer.get_data(as_text=True)
    assert reported(site, hostname, name) == f"{name} [soft_time_limit=5.0 time_limit=12.5]"
    assert logged(site)[0] == (
        "task.time_limit",
        name,
        {
            "soft_time_limit": 5.0,
            "time_limit": 12.5,
            "replies": {hostname: {"ok": "time limits set successfully"}},
        },
    )
    cleared = site.post("/tasks/limits", data=time_form(site), headers=HTMX)
    assert "time limits soft none, hard none" in cleared.get_data(as_text=True)
    assert reported(site, hostname, name) == name


# -- refused before anything is sent ---------------------------------------------------------
@pytest.fixture(scope="module")
def quiet(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    """The same project, no worker running."""
    return make_console(source=SOURCE)


@pytest.mark.parametrize(
    ("limit", "values", "problem"),
    [
        ("rate", {"rate_limit": "10/x"}, "rate_limit: '10/x' is not a rate"),
        ("rate", {"rate_limit": "ten"}, "rate_limit: 'ten' is not a rate"),
        ("rate", {"rate_limit": "-1/m"}, "rate_limit: '-1/m' is not a rate"),
        ("rate", {"rate_limit": "10 / m"}, "rate_limit: '10 / m' is not a rate"),
        ("rate", {"rate_limit": "1" * 60}, "rate_limit: '" + "1" * 40 + "…' is not a rate"),
        ("time", {"soft_time_limit": "-5"}, "soft_time_limit: -5 is not a time limit"),
        ("time", {"time_limit": "0"}, "time_limit: 0 is not a time limit"),
        ("time", {"time_limit": "nan"}, "time_limit: nan is not a time limit"),
        ("time", {"time_limit": "inf"}, "time_limit: inf is not a time limit"),
        ("time", {"time_limit": "soon"}, "time_limit: 'soon' is not a number of seconds"),
        ("time", {"time_limit": "1e9"}, "time_limit: 1e9 s is more than a year"),
        (
            "time",
            {"soft_time_limit": "30", "time_limit": "10"},
            "soft_time_limit: 30 s is not below the hard time_limit (10 s)",
        ),
        ("rate", {"task": "nobody.knows"}, "task: no task named 'nobody.knows' is registered"),
        ("rate", {"task": ""}, "task: no task named '' is registered"),
        ("weekly", {}, "limit: expected rate or time"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    quiet: ConsoleSite, limit: str, values: dict[str, str], problem: str
) -> None:
    before = logged(quiet)
    form = rate_form(quiet) if limit == "rate" else time_form(quiet)
    fields = {**form, "limit": limit, **values}
    started = time.monotonic()
    for headers in (HTMX, {}):  # the error partial, and without JavaScript the error page
        response = quiet.post("/tasks/limits", data=fields, headers=headers)
        body = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 422, body[:300]
        assert problem in body
    assert time.monotonic() - started < 1.0  # no worker was waited for
    assert logged(quiet) == before


def test_no_worker_running_is_said_within_seconds(quiet: ConsoleSite) -> None:
    started = time.monotonic()
    response = quiet.post("/tasks/limits", data=rate_form(quiet, rate_limit="5"), headers=HTMX)
    assert response.status_code == 503
    assert (
        "no worker answered within 1.5 s: the rate limit of "
        f"{task_name(quiet)} was set nowhere" in response.get_data(as_text=True)
    )
    assert time.monotonic() - started < 6
    assert logged(quiet) == []


def test_a_broker_that_is_down_is_named(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    down = make_console(
        cfg=sample_cfg + "\n[CELERY]\nbroker_url = redis://127.0.0.1:1/0\n", source=SOURCE
    )
    started = time.monotonic()
    response = down.post("/tasks/limits", data=time_form(down, time_limit="3"), headers=HTMX)
    assert response.status_code == 503
    assert "the broker is down (redis://127.0.0.1:1/0" in response.get_data(as_text=True)
    assert time.monotonic() - started < 4


def test_a_viewer_sees_no_limits_form_and_is_refused(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    extra = '@celery.task(name="{module}.add")\ndef add(x, y):\n    return x + y\n'
    site = make_auth_console(extra=extra)
    assert site.client.get("/test-sign-in/viewer@example.test").get_data(as_text=True) == "viewer"
    page = site.page("/tasks")
    assert ".add" in page
    assert "rate-limit-" not in page
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert token
    name = re.search(r"<code>([\w.]+\.add)\(", page)
    assert name
    fields = {"csrf_token": token.group(1), "task": name.group(1), "limit": "rate"}
    response = site.post("/tasks/limits", data={**fields, "rate_limit": "1/s"})
    assert response.status_code == 403
    assert logged(site) == []

    site.client = site.app.test_client()
    assert site.client.get("/test-sign-in/admin@example.test").get_data(as_text=True) == "admin"
    assert f'data-testid="rate-limit-{name.group(1)}"' in site.page("/tasks")


# -- the fields and replies, alone -----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("", None),
        ("  ", None),
        ("10", "10"),
        ("10/m", "10/m"),
        (" 0.5/s ", "0.5/s"),
        ("2/h", "2/h"),
    ],
)
def test_rates_celery_reads(text: str, rate: str | None) -> None:
    assert rate_field(text) == rate


def test_time_limits_may_be_given_alone() -> None:
    assert time_fields("", "") == (None, None)
    assert time_fields("5", "") == (5.0, None)
    assert time_fields(None, "7.5") == (None, 7.5)
    with pytest.raises(LimitInputError, match="soft_time_limit: 5 s is not below"):
        time_fields("5", "5")


def test_each_workers_reply_is_read() -> None:
    answers = [
        {"b@h": {"ok": "new rate limit set successfully"}},
        {"a@h": {"error": "unknown task"}},
        {"c@h": "garbled"},
        "not a reply",
    ]
    assert replies_of(answers) == [
        Reply("a@h", False, "unknown task"),
        Reply("b@h", True, "new rate limit set successfully"),
        Reply("c@h", False, "garbled"),
    ]
    assert replies_of(None) == []
