"""The operator console of the bundled example, as an admin uses it: the cfg editor (validation,
preview, save, conflicts), the Tasks page (send, watch, retry), and the Endpoints page (try-it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from flasker.testing import LiveServer

pytestmark = pytest.mark.slow

#: Generous: the console talks to the embedded worker and the server's first requests warm up.
SLOW = 30_000


def cfg_of(server: LiveServer) -> Path:
    """The example's cfg: a copy in the test's temporary folder."""
    return server.cfg


def open_editor(page: Page, server: LiveServer) -> None:
    page.goto(server.url + "/console/config")
    expect(page.get_by_test_id("editor")).to_be_visible()
    expect(page.get_by_role("heading", name="[APP]")).to_be_visible()


def add_app_key(page: Page, key: str, value: str) -> None:
    page.get_by_label("New key in [APP]", exact=True).fill(key)
    page.get_by_label("Value of the new key in [APP]", exact=True).fill(value)


def test_config_editor_refuses_a_bad_value_then_saves_a_good_one(
    page: Page, example_server: LiveServer
) -> None:
    cfg = cfg_of(example_server)
    before = cfg.read_bytes()
    open_editor(page, example_server)

    add_app_key(page, "TESTING", "maybe")
    # the inline error under the new key's row, and the summary above the editor
    inline = page.locator("#section-APP .invalid-feedback", has_text="TESTING")
    expect(inline).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("problems")).to_contain_text("TESTING")
    preview = page.get_by_role("button", name="Preview changes")
    preview.click()
    expect(page.get_by_test_id("not-previewed")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("problems")).to_contain_text("TESTING")
    assert cfg.read_bytes() == before

    page.get_by_label("Value of the new key in [APP]", exact=True).fill("true")
    expect(page.get_by_test_id("valid")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("problems")).to_have_count(0)
    expect(inline).to_have_count(0)
    preview.click()
    diff = page.get_by_test_id("diff")
    expect(diff).to_contain_text("+TESTING = true", timeout=SLOW)
    assert cfg.read_bytes() == before

    page.get_by_role("button", name="Save default.cfg").click()
    expect(page.get_by_test_id("saved")).to_be_visible(timeout=SLOW)
    text = cfg.read_text()
    assert re.search(r"^TESTING = true$", text, re.MULTILINE), text
    assert "# Set SECRET_KEY in the environment outside of a laptop." in text
    assert "# The bundled example: houses and their cats" in text

    page.goto(example_server.url + "/console/activity")
    saved = page.locator("tr[data-action='cfg.saved']")
    expect(saved).to_have_count(1, timeout=SLOW)
    expect(saved).to_contain_text("default.cfg")
    saved.get_by_text("Diff").click()
    expect(saved.get_by_test_id("detail")).to_contain_text("TESTING = true")


def test_config_save_is_refused_when_the_file_changed_on_disk(
    page: Page, example_server: LiveServer
) -> None:
    cfg = cfg_of(example_server)
    open_editor(page, example_server)

    # someone else edits the file while the page is open
    with cfg.open("a", encoding="utf-8") as handle:
        handle.write("# changed behind the console's back\n")
    on_disk = cfg.read_bytes()

    add_app_key(page, "TESTING", "true")
    expect(page.get_by_test_id("valid")).to_be_visible(timeout=SLOW)
    page.get_by_role("button", name="Preview changes").click()
    save = page.get_by_role("button", name="Save default.cfg")
    expect(save).to_be_visible(timeout=SLOW)
    save.click()

    expect(page.get_by_test_id("conflict")).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("conflict")).to_contain_text("Not saved")
    expect(page.get_by_test_id("yours")).to_contain_text("TESTING = true")
    expect(page.get_by_test_id("yours")).not_to_contain_text("changed behind the console")
    expect(page.get_by_test_id("on-disk")).to_contain_text("# changed behind the console's back")
    expect(page.get_by_test_id("on-disk")).not_to_contain_text("TESTING")
    assert cfg.read_bytes() == on_disk


def task_form(page: Page, short_name: str):
    return page.locator(f"form[data-testid^='send-'][data-testid$='{short_name}']")


def test_tasks_page_sends_the_census_and_retries_a_failure(
    page: Page, example_server: LiveServer
) -> None:
    page.goto(example_server.url + "/console/tasks")
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()

    task_form(page, ".census").get_by_role("button", name="Send").click()
    expect(page.get_by_test_id("sent")).to_be_visible(timeout=SLOW)
    census = page.locator("tr[data-name$='.census']")
    expect(census).to_have_count(1, timeout=SLOW)
    expect(census).to_have_attribute("data-state", "SUCCESS", timeout=SLOW)
    expect(census.get_by_test_id("result")).to_contain_text("total")

    task_form(page, ".fail").get_by_role("button", name="Send").click()
    failed = page.locator("tr[data-name$='.fail']")
    expect(failed).to_have_count(1, timeout=SLOW)
    expect(failed).to_have_attribute("data-state", "FAILURE", timeout=SLOW)
    expect(failed.get_by_test_id("error")).to_contain_text("RuntimeError")
    first_id = (failed.get_attribute("data-testid") or "").removeprefix("task-")
    assert re.fullmatch(r"[0-9a-f-]{36}", first_id), first_id

    failed.get_by_role("button", name="Retry").click()
    expect(page.locator("tr[data-name$='.fail']")).to_have_count(2, timeout=SLOW)
    retry = page.locator("tr[data-name$='.fail']", has_text=f"retry of {first_id[:8]}")
    expect(retry).to_have_count(1, timeout=SLOW)
    expect(retry).to_have_attribute("data-state", "FAILURE", timeout=SLOW)


def test_endpoints_page_lists_the_api_and_tries_a_get(
    page: Page, example_server: LiveServer
) -> None:
    page.goto(example_server.url + "/console/endpoints")
    operation = page.get_by_test_id("op-GET-/api/houses/")
    expect(operation).to_be_visible(timeout=SLOW)
    expect(operation.get_by_text("/api/houses/", exact=True)).to_be_visible()

    form = page.get_by_test_id("try-it")
    form.get_by_label("Method").select_option("GET")
    form.get_by_label("Path (on this app, with its query string)").fill("/api/houses/")
    form.get_by_role("button", name="Send").click()
    result = page.get_by_test_id("try-result")
    expect(result).to_be_visible(timeout=SLOW)
    expect(result.get_by_test_id("try-status")).to_have_text("200")
    expect(result.get_by_test_id("try-queries")).to_have_text(re.compile(r"^\s*[1-9]\d*\s*$"))
    expect(result.get_by_test_id("try-body")).to_contain_text("42 Wallaby Way, Sydney")
