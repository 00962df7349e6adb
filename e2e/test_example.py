"""The bundled example as a newcomer meets it: `flasker server`, a browser, a task button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.slow


def test_home_page_lists_the_houses_with_bootstrap(page: Page, example_server) -> None:
    page.goto(example_server.url + "/")
    expect(page).to_have_title(re.compile("Houses"))
    expect(page.get_by_role("heading", name="42 Wallaby Way, Sydney")).to_be_visible()
    # Bootstrap is served by flasker itself and styles the page
    button = page.get_by_role("button", name="Run the census")
    expect(button).to_have_css("background-color", "rgb(13, 110, 253)")


def test_census_task_runs_on_the_embedded_worker(page: Page, example_server) -> None:
    page.goto(example_server.url + "/")
    page.get_by_role("button", name="Run the census").click()
    expect(page).to_have_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    # the page refreshes itself until the worker has finished
    expect(page.get_by_text("SUCCESS")).to_be_visible(timeout=30_000)
    expect(page.get_by_role("row", name=re.compile(r"Total\s+6"))).to_be_visible()


def test_adoption_moves_a_cat_and_failures_show_no_traceback(page: Page, example_server) -> None:
    page.goto(example_server.url + "/")
    page.get_by_label("Cat").select_option("Tom")
    page.get_by_label("moves to").select_option(label="1 Rue des Chats, Paris")
    page.get_by_role("button", name="Adopt (as a task)").click()
    expect(page.get_by_text("SUCCESS")).to_be_visible(timeout=30_000)
    page.goto(example_server.url + "/")
    paris = page.locator(".card", has_text="1 Rue des Chats, Paris")
    expect(paris.get_by_text("Tom")).to_be_visible()

    page.get_by_role("button", name="Run a failing task").click()
    expect(page.get_by_text("FAILURE")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Traceback")).to_have_count(0)


def test_api_docs_page_lists_the_examples_endpoints(page: Page, example_server) -> None:
    page.goto(example_server.url + "/api/docs")
    expect(page.get_by_role("heading", name=re.compile("Houses API"))).to_be_visible()
    expect(page.get_by_text("/api/houses/{id}/cats/", exact=True).first).to_be_visible()
    # the page's data is real: the API it documents answers with the example's houses
    response = page.request.get(example_server.url + "/api/houses/?include=cats")
    assert response.ok
    houses = response.json()["data"]
    assert [h["address"] for h in houses][:2] == [
        "1 Rue des Chats, Paris",
        "42 Wallaby Way, Sydney",
    ]
    assert {c["name"] for c in houses[0]["cats"]} == {"Felix", "Garfield"}


def test_the_console_is_mounted_and_shows_the_cfg_and_the_live_worker(
    page: Page, example_server
) -> None:
    page.goto(example_server.url + "/console/")
    expect(page.get_by_text("default.cfg").first).to_be_visible()
    page.goto(example_server.url + "/console/workers")
    # the embedded worker that flasker server started shows up online
    expect(page.get_by_text("online").first).to_be_visible(timeout=20_000)
