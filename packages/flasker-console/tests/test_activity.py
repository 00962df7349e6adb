"""The activity log: every change made through the console is recorded (who, when, what) and
listed on the Activity page; refused changes record nothing; viewers see secrets masked."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

VIEWER = "viewer@example.test"
ADMIN = "admin@example.test"

TASKS_SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=0.5))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x, y=2):
    return x + y
"""


@pytest.fixture(scope="module")
def tasks_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=TASKS_SOURCE)


@pytest.fixture
def site(tasks_site: ConsoleSite) -> ConsoleSite:
    tasks_site.reset()
    return tasks_site


@pytest.fixture(scope="module")
def auth_site(make_auth_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_auth_console()


def entries(site: ConsoleSite) -> list[Any]:
    from flasker_console import activity

    return activity.page(site.project).rows  # newest first


def sign_in(site: ConsoleSite, email: str) -> None:
    assert site.client.get(f"/test-sign-in/{email}").status_code == 200


def test_a_cfg_save_records_who_when_and_the_diff(site: ConsoleSite) -> None:
    before = len(entries(site))
    form = site.editor_form(**{"value:APP:DEBUG": "true", "action": "save"})
    assert site.post("/config", data=form).status_code == 303
    rows = entries(site)
    assert len(rows) == before + 1
    row = rows[0]
    assert (row.who, row.action) == ("local", "cfg.saved")
    assert row.target == "default.cfg [APP]"
    at = row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC)  # SQLite drops the zone
    assert abs(datetime.now(UTC) - at) < timedelta(minutes=1)
    assert "-DEBUG = false" in row.detail
    assert "+DEBUG = true" in row.detail
    page = site.page("/activity")
    assert 'href="/console/activity"' in page  # the nav link
    assert f'data-testid="activity-{row.id}"' in page
    assert "<details>" in page
    assert "+DEBUG = true" in page
    # the raw editor's saves are recorded too
    form = site.editor_form(raw=True, action="save")
    form["text"] = form["text"].replace("LEVEL = INFO", "LEVEL = WARNING")
    assert site.post("/config/raw", data=form).status_code == 303
    row = entries(site)[0]
    assert row.target == "default.cfg [LOGGING]"
    assert "+LEVEL = WARNING" in row.detail


def test_task_send_and_revoke_are_recorded(site: ConsoleSite) -> None:
    name = f"{site.project.config.modules[0]}.add"
    form = site.form(site.page("/tasks"), f"send-{name}")
    form.update({"arg:x": "40", "arg:y": "2"})
    assert site.post("/tasks", data=form).status_code == 303
    sent = entries(site)[0]
    assert (sent.who, sent.action) == ("local", "task.sent")
    assert sent.target.startswith(f"{name} ")
    task_id = sent.target.split()[1]
    assert json.loads(sent.detail)["kwargs"] == {"x": 40, "y": 2}

    revoke = site.form(site.page("/tasks"), f"revoke-{task_id}")
    assert site.post(f"/tasks/{task_id}/revoke", data=revoke).status_code == 303
    revoked = entries(site)[0]
    assert (revoked.action, revoked.target) == ("task.revoked", f"{name} {task_id}")
    page = site.page("/activity")
    assert 'data-action="task.sent"' in page
    assert 'data-action="task.revoked"' in page


def test_refused_changes_record_nothing(site: ConsoleSite, auth_site: ConsoleSite) -> None:
    before = len(entries(site))
    invalid = site.editor_form(**{"value:LOGGING:LEVEL": "LOUD", "action": "save"})
    assert site.post("/config", data=invalid).status_code == 422
    no_csrf = site.editor_form(**{"value:APP:DEBUG": "true", "action": "save"})
    del no_csrf["csrf_token"]
    assert site.post("/config", data=no_csrf).status_code == 400
    assert len(entries(site)) == before

    auth_site.reset()
    before = len(entries(auth_site))
    sign_in(auth_site, VIEWER)
    page = auth_site.page("/config")
    token = auth_site.form(page)["csrf_token"]
    response = auth_site.post(
        "/config", data={"csrf_token": token, "value:APP:DEBUG": "true", "action": "save"}
    )
    assert response.status_code == 403
    assert len(entries(auth_site)) == before


def test_viewers_see_secrets_masked_in_recorded_diffs(auth_site: ConsoleSite) -> None:
    auth_site.reset()
    sign_in(auth_site, ADMIN)
    form = auth_site.editor_form(
        **{"value:APP:SECRET_KEY": "a-brand-new-secret-0123456789", "action": "save"}
    )
    assert auth_site.post("/config", data=form).status_code == 303
    row = entries(auth_site)[0]
    assert row.who == ADMIN
    assert "+SECRET_KEY = a-brand-new-secret" in row.detail
    assert "a-brand-new-secret" in auth_site.page("/activity")  # admins read it all

    auth_site.client = auth_site.app.test_client()
    sign_in(auth_site, VIEWER)
    page = auth_site.page("/activity")
    assert f'data-testid="activity-{row.id}"' in page
    assert "a-brand-new-secret" not in page
    assert "console-tests-secret-key" not in page
    assert "+SECRET_KEY = ********" in page


def test_a_failure_to_record_never_breaks_the_change(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from flasker_console import activity

    def broken(project: Any) -> None:
        raise RuntimeError("the log is gone")

    monkeypatch.setattr(activity, "ensure_table", broken)
    form = site.editor_form(**{"value:APP:DEBUG": "true", "action": "save"})
    with caplog.at_level(logging.WARNING, logger="flasker_console.activity"):
        assert site.post("/config", data=form).status_code == 303
    assert "DEBUG = true" in site.text()
    assert "could not record cfg.saved" in caplog.text
