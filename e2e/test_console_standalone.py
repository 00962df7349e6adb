"""The standalone console over a folder of projects (`flasker console --root DIR`), in a real
browser against the real command: the Projects page with each project's health, a project
scaffolded from the New project form, and the example's console under /p/houses/ (its tasks
read by a subprocess, its beat schedule, its cfg). It has no sign-in, so it answers only to
loopback names: a request addressed to another host is refused.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from flasker._net import free_port
from flasker.scaffold import TEMPLATES
from flasker.testing import background, log_tail, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
#: Generous: health checks and the tasks subprocess import the project's stack.
SLOW = 30_000
#: The template the New project form is given: the smallest one there is.
TEMPLATE = "minimal" if "minimal" in TEMPLATES else TEMPLATES[0]


@dataclass
class Console:
    url: str
    port: int
    root: Path
    log: Path
    process: subprocess.Popen[bytes]

    def tail(self) -> str:
        return log_tail(self.log)


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    """`flasker console --root <tmp>/projects` over a copy of the example, on a free port."""
    root = tmp_path / "projects"
    shutil.copytree(
        ROOT / "examples" / "houses",
        root / "houses",
        ignore=shutil.ignore_patterns("db.sqlite*", ".flasker", "__pycache__", "*.log"),
    )
    port = free_port()
    log = tmp_path / "console.log"
    command = [sys.executable, "-m", "flasker", "console", "--root", str(root)]
    command += ["--port", str(port)]
    # from the temporary folder: no [tool.flasker] of the repository nearby to pick a cfg up
    with background(command, log, cwd=tmp_path) as process:

        def up() -> bool:
            if process.poll() is not None:
                pytest.fail(f"flasker console exited early:\n{log_tail(log)}", pytrace=False)
            return answers(port)

        wait_for(up, 30, what="flasker console to listen", log=log)
        yield Console(f"http://127.0.0.1:{port}", port, root, log, process)


def test_standalone_console_lists_checks_scaffolds_and_opens_a_project(
    page: Page, console: Console
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    # -- the Projects page at /: the example, with its health loaded on its own
    page.goto(console.url + "/")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.get_by_test_id("projects-root")).to_contain_text(str(console.root.resolve()))
    houses = page.get_by_test_id("project-houses")
    expect(houses).to_be_visible()
    health = houses.get_by_test_id("health")
    expect(health).to_have_attribute("data-ok", "true", timeout=SLOW)
    expect(health.get_by_test_id("config-valid")).to_have_text("cfg valid")
    expect(health.get_by_test_id("check-database")).to_have_attribute("data-ok", "true")
    expect(health.get_by_test_id("check-broker")).to_have_attribute("data-ok", "true")

    # -- New project: scaffolded, its files shown, listed with its own health
    form = page.get_by_test_id("new-project")
    form.get_by_label("Folder").fill("shop")
    form.get_by_label("Template").select_option(TEMPLATE)
    form.get_by_role("button", name="Create project").click()
    created = page.get_by_test_id("created-files")
    expect(created).to_contain_text("shop/default.cfg", timeout=SLOW)
    expect(page.get_by_test_id("new-project-problems")).to_have_count(0)
    shop = page.get_by_test_id("project-shop")
    expect(shop).to_be_visible()
    expect(shop.get_by_test_id("config-valid")).to_be_visible(timeout=SLOW)
    assert (console.root / "shop" / "default.cfg").is_file()
    for line in created.locator("li").all_inner_texts():
        assert (console.root / line.strip()).exists(), line
    expect(page.get_by_test_id("project-houses")).to_be_visible()

    # -- the example's console under /p/houses/: tasks from a subprocess, the beat entry
    page.goto(console.url + "/p/houses/tasks")
    expect(page.get_by_role("heading", name="Tasks", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Registered tasks")).to_be_visible()
    expect(page.get_by_text("houses.tasks.census(", exact=False)).to_be_visible(timeout=SLOW)
    expect(page.get_by_test_id("send-houses.tasks.census")).to_be_visible()
    entry = page.locator("tr[data-testid='beat-entry'][data-entry='nightly-census']")
    expect(entry).to_be_visible()
    expect(entry).to_contain_text("houses.tasks.census")
    expect(entry.get_by_role("button", name="Run nightly-census now")).to_be_visible()

    # -- its cfg, one card per section
    page.goto(console.url + "/p/houses/config")
    expect(page.get_by_test_id("editor")).to_be_visible()
    expect(page.get_by_role("heading", name="[PROJECT]")).to_be_visible()
    expect(page.locator("#section-PROJECT")).to_contain_text("MODULES")
    assert not errors, errors

    # -- addressed to another host (DNS rebinding): refused, from the browser and from urllib
    refused = page.request.get(console.url + "/", headers={"Host": "evil.example"})
    assert refused.status == 400, (refused.status, refused.text())
    for path in ("/", "/p/houses/config"):
        request = urllib.request.Request(console.url + path, headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 400, path
        assert "evil.example" in caught.value.read().decode("utf-8", "replace")
    # the same request addressed to the loopback name is answered
    with urllib.request.urlopen(console.url + "/", timeout=10) as answer:
        assert answer.status == 200
    assert console.process.poll() is None, console.tail()
