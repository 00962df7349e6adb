"""The cfg editor's views (config_views.py): what each answer is (a page, an htmx partial, a
redirect after a save), a save that changes nothing writes nothing, a viewer reads the file
with its secrets masked and cannot save, and a file that went away is named."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

ConsoleSite = Any
HTMX = {"HX-Request": "true"}
DEBUG = "value:APP:DEBUG"


def error_text(answer: Any) -> str:
    found = re.search(r"<strong>(\d+):</strong> (.*?)\n", answer.get_data(as_text=True), re.S)
    assert found is not None, answer.get_data(as_text=True)[:500]
    return f"{found.group(1)}: {html.unescape(found.group(2))}"


def test_saving_without_a_change_writes_nothing(site: ConsoleSite) -> None:
    mtime = site.cfg.stat().st_mtime_ns
    answer = site.post("/config", data=site.editor_form(action="save"))
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert re.findall(r'data-testid="no-changes">(.*?)</p>', body) == ["No changes to save."]
    assert site.text() == site.original
    assert site.cfg.stat().st_mtime_ns == mtime


def test_a_raw_save_over_htmx_sends_the_page_to_the_saved_editor(site: ConsoleSite) -> None:
    form = site.editor_form(raw=True)
    text = form["text"].replace("LEVEL = INFO", "LEVEL = DEBUG")
    answer = site.post("/config/raw", data={**form, "text": text, "action": "save"}, headers=HTMX)
    assert (answer.status_code, answer.get_data(as_text=True)) == (200, "")
    assert answer.headers["HX-Redirect"] == "/console/config/raw?saved=1"
    assert site.text() == site.original.replace("LEVEL = INFO", "LEVEL = DEBUG")


def test_a_section_save_without_htmx_redirects_with_303(site: ConsoleSite) -> None:
    answer = site.post("/config", data=site.editor_form(**{DEBUG: "true", "action": "save"}))
    assert (answer.status_code, answer.headers["Location"]) == (303, "/console/config?saved=1")


def test_validating_as_you_type_names_the_problem_and_writes_nothing(site: ConsoleSite) -> None:
    form = site.editor_form(raw=True)
    text = form["text"].replace("LEVEL = INFO", "LEVEL = LOUD")
    answer = site.post("/config/raw/validate", data={**form, "text": text}, headers=HTMX)
    body = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 200
    assert "<strong>1 problem</strong>; nothing is saved until" in body
    assert re.findall(r"<li>(.*?)</li>", body) == [
        f"{site.cfg}:15: [LOGGING] LEVEL: expected one of DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL, got 'LOUD'"
    ]
    assert '<div id="preview" aria-live="polite" hx-swap-oob="true"></div>' in body
    assert site.text() == site.original


@pytest.fixture(scope="module")
def auth_console(make_auth_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_auth_console()


def test_a_viewer_reads_the_cfg_with_its_secrets_masked_and_cannot_save(
    auth_console: ConsoleSite,
) -> None:
    site = auth_console
    site.reset()
    assert site.client.get("/test-sign-in/viewer@example.test").text == "viewer"
    page = site.page("/config")
    assert re.findall(r'name="value:APP:SECRET_KEY" value="([^"]*)"', page) == ["********"]
    raw = html.unescape(site.page("/config/raw"))
    assert re.findall(r"SECRET_KEY = .*", raw) == ["SECRET_KEY = ********"]
    form = site.form(page, "editor")
    refused = site.post("/config", data={**form, DEBUG: "true", "action": "save"})
    assert refused.status_code == 403
    refusal = refused.get_data(as_text=True)
    assert re.findall(r"<h1[^>]*>(.*?)</h1>", refusal) == ["Not allowed"]
    assert "This needs the role admin; you are viewer." in refusal
    assert site.text() == site.original
    # an admin reads the value as written
    assert site.client.get("/test-sign-in/admin@example.test").text == "admin"
    admin_page = site.page("/config")
    assert re.findall(r'name="value:APP:SECRET_KEY" value="([^"]*)"', admin_page) == [
        "console-tests-secret-key-0123456789"
    ]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/config", "500: cannot read {cfg}: No such file or directory"),
        ("/config/raw", "500: cannot read {cfg}: [Errno 2] No such file or directory: '{cfg}'"),
    ],
)
def test_a_cfg_file_that_went_away_is_named(site: ConsoleSite, path: str, message: str) -> None:
    site.cfg.unlink()
    answer = site.get(path)
    assert answer.status_code == 500
    assert error_text(answer) == message.format(cfg=site.cfg)
    assert "Traceback" not in answer.get_data(as_text=True)
