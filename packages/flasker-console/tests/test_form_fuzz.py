"""Every console form fed empty, huge, odd unicode and HTML/JS values, one field at a time.

On the bundled example signed in as an admin (valid CSRF token, same origin), each field of
each form the console posts (`HousesSite.console_forms`: the cfg editor and raw editor, task
sending, retry and revoke, Run now, the worker actions, Try-it, New project) and each query
parameter its pages read gets each payload, the other fields as the page gave them. The
answer is a normal success or a 4xx, never a 500 or a traceback; an HTML/JS payload never
comes back unescaped; a refusal writes nothing (cfg, rows, task queue). The editors preview
(`action=preview`) so an accepted value is shown, not saved; saving is fuzzed separately.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

MEGABYTE = 1 << 20
PAYLOADS = {
    "empty": "",
    "spaces": "   ",
    "huge": "x" * MEGABYTE,
    "rtl": "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd",
    "emoji": "\U0001f408\u200d\u2b1b\U0001f3e0",
    "nul": "a\x00b",
    "crlf": "a\r\nINJECTED = 1\r\n[EVIL]",
    "lone-surrogate": "\ud800x",  # sent as its UTF-8-ish bytes: invalid UTF-8
    "script": "<script>alert(1)</script>",
    "img": '"><img src=x onerror=alert(1)>',
    "template": "{{ 7 * 7 }}{% raw %}",
    "interpolation": "${SECRET_KEY}",
    "sql": "'; DROP TABLE houses; --",
}
#: Payloads whose raw text in a page would run (they must come back escaped).
ACTIVE = {"script", "img"}

#: Fields of the cfg editor worth fuzzing (it has one per key of the file).
EDITOR_FIELDS = [
    "value:PROJECT:NAME",
    "value:CONSOLE:INSPECT_TIMEOUT",
    "new-key:APP",
    "new-value:APP",
    "new-section",
    "new-section-key",
    "new-section-value",
    "base",
    "action",
]
#: The console's GET pages and the query parameters they read.
QUERIES = [
    ("/console/endpoints", "q"),
    ("/console/endpoints", "ops_page"),
    ("/console/endpoints", "routes_page"),
    ("/console/activity", "page"),
    ("/console/tasks", "sent"),
    ("/console/config", "saved"),
    pytest.param("/console/projects", "check", marks=pytest.mark.slow),  # checks every project
    ("/console/projects/health", "project"),
    ("/console/status", "alerts"),
]


def fields_of(endpoint: str, form: dict[str, str]) -> list[str]:
    if endpoint in ("config_post", "config_validate"):
        return EDITOR_FIELDS
    return [name for name in form if name != "csrf_token"]


def encode(fields: dict[str, str]) -> bytes:
    """A form body as a browser sends it; a lone surrogate becomes the (invalid) bytes a
    careless client would send."""
    return urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in fields.items()}).encode()


@pytest.fixture(scope="module")
def admin(houses: Any) -> Any:
    return houses.browser(houses.admin)


@pytest.fixture(scope="module")
def forms(houses: Any, admin: Any) -> dict[str, tuple[str, dict[str, str]]]:
    found = houses.console_forms(admin)
    for endpoint in ("config_post", "config_validate", "config_raw_post", "config_raw_validate"):
        found[endpoint][1]["action"] = "preview"
    tasks = admin.get("/console/tasks").get_data(as_text=True)
    adopt = re.search(r'data-testid="(send-[\w.]+\.adopt)"', tasks)
    assert adopt, "no adopt task on the tasks page"
    found["tasks_send_adopt"] = ("/console/tasks", houses.form(tasks, adopt.group(1)))
    return found


@pytest.fixture(scope="module")
def cfg_kept(houses: Any) -> Iterator[None]:
    text = houses.cfg.read_text(encoding="utf-8")
    yield
    houses.cfg.write_text(text, encoding="utf-8")


FORMS = [
    "config_post",
    "config_validate",
    "config_raw_post",
    "config_raw_validate",
    "tasks_send",
    "tasks_send_adopt",
    "tasks_beat_run",
    "endpoints_try",
    "projects_new",
    # each accepted value waits INSPECT_TIMEOUT + 1 s for a worker that never answers
    *(
        pytest.param(endpoint, marks=pytest.mark.slow)
        for endpoint in (
            "workers_pool",
            "workers_consumer_add",
            "workers_consumer_cancel",
            "workers_shutdown",
        )
    ),
]


def fuzz(
    houses: Any, admin: Any, path: str, fields: dict[str, str], field: str, where: str
) -> list[str]:
    """Post `fields` (`field` fuzzed); what is wrong with the answer (empty when nothing is)."""
    before = houses.state()
    response = admin.post(
        path,
        data=encode(fields),
        content_type="application/x-www-form-urlencoded",
        headers={"X-CSRFToken": fields.get("csrf_token", ""), "Origin": "http://localhost"},
    )
    return answer_problems(houses, response, before, where, field)


def answer_problems(
    houses: Any, response: Any, before: dict[str, Any], where: str, field: str
) -> list[str]:
    status = response.status_code
    body = response.get_data(as_text=True)
    response.close()
    where = f"{where} → {status}"
    problems = []
    if status >= 500 and not (status == 503 and 'data-testid="error"' in body):
        # 503 is the console saying a worker or the broker does not answer (no worker runs)
        problems.append(f"{where}: {body[-400:]}")
    if "Traceback" in body:
        problems.append(f"{where}: a traceback reached the browser")
    for name in ACTIVE:
        if PAYLOADS[name] in body:
            problems.append(f"{where}: {PAYLOADS[name]!r} came back unescaped")
    # a refusal of the value names the field (the key, for the editor's `value:SECTION:KEY`);
    # the hidden `base` is not the user's: its refusal says to reload the editor
    named = "reload" if field == "base" else field.rpartition(":")[2].lower()
    if status in (400, 422) and named not in body.lower():
        problems.append(f"{where}: the refusal does not name {named!r}")
    if status >= 400 and houses.state() != before:
        problems.append(f"{where}: refused, yet something changed")
    return problems


@pytest.mark.parametrize("endpoint", FORMS)
def test_every_field_of_every_form_takes_any_value(
    houses: Any, admin: Any, forms: dict[str, Any], cfg_kept: None, endpoint: str
) -> None:
    path, form = forms[endpoint]
    problems = []
    for field in fields_of(endpoint, form):
        for name, payload in PAYLOADS.items():
            fields = {**form, field: payload}
            problems += fuzz(houses, admin, path, fields, field, f"{endpoint} {field}={name}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("path", "parameter"), QUERIES)
def test_every_query_parameter_takes_any_value(admin: Any, path: str, parameter: str) -> None:
    problems = []
    for name, payload in PAYLOADS.items():
        if name == "huge":
            payload = "x" * 4000  # a URL, not a body: what servers accept in a request line
        query = urlencode({parameter: payload.encode("utf-8", "surrogatepass")})
        for headers in ({}, {"HX-Request": "true"}):
            response = admin.get(f"{path}?{query}", headers=headers)
            body = response.get_data(as_text=True)
            where = f"GET {path} {parameter}={name} htmx={bool(headers)} → {response.status_code}"
            if response.status_code >= 500 or "Traceback" in body:
                problems.append(f"{where}: {body[-300:]}")
            for active in ACTIVE:
                if PAYLOADS[active] in body:
                    problems.append(f"{where}: {PAYLOADS[active]!r} came back unescaped")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "queue", ["a b", "\U0001f408", "../../escape", "a\x00b", "q" * 300, "<script>alert(1)</script>"]
)
def test_a_task_sent_to_an_odd_queue_is_refused_naming_the_field(
    houses: Any, admin: Any, forms: dict[str, Any], queue: str
) -> None:
    """Regression (issue 10's fuzz): the queue field went to the broker as typed; the embedded
    broker failed on a space, a slash, a NUL or a long name, and the console answered 503
    with kombu's AttributeError. Now a 422 names the field, and nothing is queued."""
    path, form = forms["tasks_send"]
    before = houses.state()
    response = admin.post(path, data={**form, "queue": queue})
    assert response.status_code == 422, response.status_code
    assert "queue:" in response.text
    assert "<script>alert(1)</script>" not in response.text
    assert houses.state() == before
    sent = admin.post(path, data={**form, "queue": "q.fuzz-1"})
    assert sent.status_code == 303
    assert len(houses.queued()) == len(before["queued"]) + 1


@pytest.mark.parametrize("hostname", ["", "   ", "h" * MEGABYTE])
def test_a_pool_resize_for_no_worker_is_refused_naming_the_field(
    admin: Any, forms: dict[str, Any], hostname: str
) -> None:
    """Regression (issue 10's fuzz): the pool form, unlike the other worker forms, sent any
    hostname (1 MB included) to the broker as a broadcast destination and echoed it back in
    a 409; it now checks the field as they do."""
    path, form = forms["workers_pool"]
    response = admin.post(path, data={**form, "hostname": hostname})
    assert response.status_code in (400, 422), response.status_code
    assert "hostname:" in response.text
    assert len(response.get_data()) < 100_000
