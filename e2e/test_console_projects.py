"""The console's Projects page at the bundled example: a signed-in admin creates a project."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from flasker.testing import LiveServer

pytestmark = pytest.mark.slow

SLOW = 30_000


def test_admin_scaffolds_a_project_and_sees_its_files_and_it_listed(
    page: Page, example_server: LiveServer
) -> None:
    root = example_server.cfg.parent.parent  # PROJECTS_ROOT: the folder above the example
    page.goto(example_server.url + "/console/")
    page.get_by_role("link", name="Projects", exact=True).click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    houses = page.get_by_test_id("project-houses")
    expect(houses.get_by_test_id("current")).to_be_visible()
    # each row's health arrives on its own
    expect(houses.get_by_test_id("config-valid")).to_be_visible(timeout=SLOW)

    form = page.get_by_test_id("new-project")
    form.get_by_label("Folder").fill("../escape")
    form.get_by_role("button", name="Create project").click()
    expect(page.get_by_test_id("new-project-problems")).to_contain_text("'..'", timeout=SLOW)
    assert not (root.parent / "escape").exists()

    form.get_by_label("Folder").fill("shop")
    form.get_by_label("Name").fill("Shop")
    form.get_by_label("Template").select_option("minimal")
    form.get_by_role("button", name="Create project").click()

    files = page.get_by_test_id("created-files")
    expect(files).to_contain_text("shop/default.cfg", timeout=SLOW)
    expect(page.get_by_test_id("new-project-problems")).to_have_count(0)
    shop = page.get_by_test_id("project-shop")
    expect(shop).to_be_visible()
    expect(shop.get_by_test_id("config-valid")).to_be_visible(timeout=SLOW)
    assert (root / "shop" / "default.cfg").is_file()

    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_test_id("activity")).to_contain_text("project.scaffolded")
