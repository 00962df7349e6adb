"""The Workers page of the bundled example, as a signed-in admin uses it: a queue consumer added
and cancelled on the embedded worker, a beat entry run now from the Tasks page, and a warm
shutdown; every change then shows on the Activity page with who made it.

The server is a real `flasker server` subprocess with its embedded worker (`example_server`);
the table is the page's own 3 s htmx polling, never a reload.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect

from flasker.testing import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

#: Generous: the embedded worker imports Celery and the project, and answers within ~1.5 s.
SLOW = 30_000
#: The queue the admin makes the embedded worker consume from.
QUEUE = "reports"
#: The local admin `flasker server` prints a sign-in link for.
ADMIN = "admin@localhost"


def embedded_worker(page: Page, server: LiveServer) -> tuple[str, Locator]:
    """The hostname and row of the server's embedded worker: the only worker online."""
    page.goto(server.url + "/console/workers")
    online = page.locator("tr[data-testid='worker'][data-online='true']")
    expect(online).to_have_count(1, timeout=SLOW)
    hostname = online.get_attribute("data-hostname")
    assert hostname, server.output()
    return hostname, page.locator(f"tr[data-testid='worker'][data-hostname='{hostname}']")


def test_admin_adds_and_cancels_a_consumer_runs_beat_now_and_shuts_the_worker_down(
    page: Page, example_server: LiveServer
) -> None:
    server = example_server
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    hostname, row = embedded_worker(page, server)
    queues = row.get_by_test_id("queues")
    expect(queues.locator(f"[data-queue='{QUEUE}']")).to_have_count(0)

    # -- add a consumer: the notice at once, the queue at the next refresh of the table
    form = page.get_by_test_id(f"add-consumer-{hostname}")
    form.get_by_label(f"Queue for {hostname} to consume from").fill(QUEUE)
    form.get_by_role("button", name=f"Make {hostname} consume from this queue").click()
    notice = page.locator("#worker-message").get_by_test_id("notice")
    expect(notice).to_contain_text(f"{hostname}: add consumer {QUEUE}", timeout=SLOW)
    added = queues.locator(f"li[data-testid='queue'][data-queue='{QUEUE}']")
    expect(added).to_have_count(1, timeout=SLOW)
    expect(added).to_contain_text(QUEUE)
    # the worker's default queue is still there beside it
    expect(queues.get_by_test_id("queue")).to_have_count(2)

    # -- cancel it with its cross
    added.get_by_role("button", name=f"Stop {hostname} consuming from {QUEUE}").click()
    expect(notice).to_contain_text(f"{hostname}: no longer consuming from {QUEUE}", timeout=SLOW)
    expect(added).to_have_count(0, timeout=SLOW)
    expect(queues.get_by_test_id("queue")).to_have_count(1)

    # -- Run now of the example's beat entry: a new row that the worker runs to SUCCESS
    page.goto(server.url + "/console/tasks")
    expect(page.get_by_test_id("no-sent")).to_be_visible()
    entry = page.locator("tr[data-testid='beat-entry'][data-entry='nightly-census']")
    expect(entry).to_contain_text("houses.tasks.census")
    entry.get_by_role("button", name="Run nightly-census now").click()
    expect(page.locator("#task-message")).to_contain_text(
        "Ran beat entry nightly-census now", timeout=SLOW
    )
    census = page.locator("#task-list tr[data-name='houses.tasks.census']")
    expect(census).to_have_count(1, timeout=SLOW)
    expect(census).to_have_attribute("data-state", "SUCCESS", timeout=SLOW)
    expect(census.get_by_test_id("result")).to_contain_text("total")
    expect(census).to_contain_text(ADMIN)

    # -- warm shutdown, confirmed in the browser's dialog: the row turns offline
    page.goto(server.url + "/console/workers")
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    row.get_by_role("button", name=f"Shut down {hostname}").click()
    expect(notice).to_contain_text("warm shutdown requested", timeout=SLOW)
    assert asked, "no confirmation was asked before the shutdown"
    assert hostname in asked[0], asked
    expect(row).to_have_attribute("data-online", "false", timeout=SLOW)
    expect(row).to_contain_text("offline")
    expect(page.get_by_test_id(f"shutdown-{hostname}")).to_have_count(0)

    # -- every change on the Activity page, by the admin who made it
    page.goto(server.url + "/console/activity")
    for action, target in (
        ("worker.add_consumer", hostname),
        ("worker.cancel_consumer", hostname),
        ("beat.run_now", "nightly-census"),
        ("worker.shutdown", hostname),
    ):
        recorded = page.locator(f"tr[data-action='{action}']")
        expect(recorded).to_have_count(1)
        expect(recorded).to_contain_text(ADMIN)
        expect(recorded).to_contain_text(target)
    consumers = page.locator("tr[data-action$='_consumer']")
    for index in range(2):
        consumers.nth(index).get_by_text("Details").click()
        expect(consumers.nth(index).get_by_test_id("detail")).to_contain_text(QUEUE)
    assert not errors, errors
