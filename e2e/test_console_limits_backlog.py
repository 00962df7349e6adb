"""Issue 15, as an operator sees it against real processes: a rate limit set on the console's
tasks page takes effect on the running worker, and a queue's backlog shows on the overview's
Workers card and drains once a worker consumes it.

Both use the bundled example on its embedded broker, served by a real `flasker server`
subprocess, with an admin signed in through the one-time link it prints. The limit is proved
by what the worker does, never by how long anything takes: the tasks held back by the limit
are RECEIVED by the worker (the console heard its `task-received` events) but never started,
while an unlimited task sent after them runs; without the limit the same tasks all run.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from flasker.testing import LiveServer, ServerFailed, worker_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent
#: Generous: a worker needs a few seconds to import Celery and the project.
SLOW = 30_000
#: The example's task the limit is set on, and an unlimited one sent after it.
LIMITED = "houses.tasks.census"
UNLIMITED = "houses.tasks.fail"
#: One task an hour: the worker's bucket holds one token, so the first task runs at once and
#: the next would wait an hour, far beyond the test on however loaded a machine (with 1/m a
#: slow run could see the second start, and the count would depend on time).
RATE = "1/h"
#: Tasks sent in each round of the rate limit test, and into the backlog.
ROUND = 3
BACKLOG = 10
ADMIN = "admin@localhost"
#: What a worker's log says when a task of `name` succeeded (Celery's INFO line).
SUCCEEDED = r"Task {name}\[[0-9a-f-]{{36}}\] succeeded"


# -- helpers ----------------------------------------------------------------------------------
def send(page: Page, server: LiveServer, task: str, times: int) -> None:
    """Send `task` `times` times from its form on the console's tasks page (no arguments),
    each time until the list of sent tasks has it once more."""
    page.goto(server.url + "/console/tasks")
    sent = page.locator(f"#task-list tr[data-name='{task}']")
    before = sent.count()
    for number in range(1, times + 1):
        form = page.locator(f"form[data-testid='send-{task}']")
        form.get_by_role("button", name="Send").click()
        expect(sent).to_have_count(before + number, timeout=SLOW)


def wait_until(
    page: Page, url: str, done: Callable[[], bool], what: str, log: Callable[[], str]
) -> None:
    """Open `url` again until `done()` holds on it, as an operator reloading would (the
    console's own polling may be slower, or absent without htmx); fail after `SLOW`, with
    the end of `log()` (the output of the process that should have done it)."""
    deadline = time.monotonic() + SLOW / 1000
    while True:
        page.goto(url)
        if done():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what} never seen on {url}\n{log()[-3000:]}", pytrace=False)
        page.wait_for_timeout(500)


def history_rows(page: Page, task: str, state: str) -> Locator:
    return page.locator(f"tr[data-name='{task}'][data-state='{state}']")


def runs_in_log(server: LiveServer, task: str) -> int:
    """How many runs of `task` the embedded worker (whose output is the server's) finished."""
    return len(re.findall(SUCCEEDED.format(name=re.escape(task)), server.output()))


def online_worker(page: Page, server: LiveServer) -> str:
    """The embedded worker's hostname, once the workers page shows it online (opening the
    console also starts its event listener, which then hears the worker's tasks)."""
    page.goto(server.url + "/console/workers")
    online = page.locator("tr[data-testid='worker'][data-online='true']")
    expect(online).to_have_count(1, timeout=SLOW)
    hostname = online.get_attribute("data-hostname")
    assert hostname, server.output()
    return hostname


# -- 1: a rate limit set from the console takes effect -----------------------------------------
def test_a_rate_limit_set_on_the_tasks_page_holds_back_the_workers_runs(
    page: Page, example_server: LiveServer
) -> None:
    server = example_server
    history = server.url + "/console/tasks/history"
    hostname = online_worker(page, server)

    # -- without a limit: every task sent runs
    send(page, server, LIMITED, ROUND)
    wait_until(
        page,
        history,
        lambda: history_rows(page, LIMITED, "SUCCESS").count() == ROUND,
        f"{ROUND} {LIMITED} SUCCESS",
        server.output,
    )
    assert runs_in_log(server, LIMITED) == ROUND

    # -- the limit, from the task's form on the tasks page; the worker's reply is shown
    page.goto(server.url + "/console/tasks")
    limits = page.get_by_test_id(f"limits-{LIMITED}")
    limits.get_by_text("Limits on the running workers").click()
    form = page.locator(f"form[data-testid='rate-limit-{LIMITED}']")
    form.get_by_label("Rate limit").fill(RATE)
    form.get_by_role("button", name="Set rate limit").click()
    # in place with htmx; without it, a notice on the tasks page it redirects to
    replies = page.locator("[data-testid='limits-sent'], [data-testid='notice']")
    expect(replies).to_contain_text(f"rate limit {RATE}", timeout=SLOW)
    expect(replies).to_contain_text(hostname)
    expect(replies).to_contain_text("new rate limit set successfully")
    reply = page.locator(f"[data-testid='limit-reply'][data-worker='{hostname}']")
    if reply.count():
        expect(reply).to_have_attribute("data-ok", "true")

    # -- with it: the worker receives all of them and runs one
    send(page, server, LIMITED, ROUND)
    held = ROUND - 1
    wait_until(
        page,
        history,
        lambda: (
            history_rows(page, LIMITED, "RECEIVED").count() == held
            and history_rows(page, LIMITED, "SUCCESS").count() == ROUND + 1
        ),
        f"{held} {LIMITED} RECEIVED and {ROUND + 1} SUCCESS",
        server.output,
    )
    # an unlimited task sent after them runs, while those two still wait: the worker is not
    # slow, it holds them back
    send(page, server, UNLIMITED, 1)
    wait_until(
        page,
        history,
        lambda: history_rows(page, UNLIMITED, "FAILURE").count() == 1,
        f"{UNLIMITED} FAILURE",
        server.output,
    )
    expect(history_rows(page, LIMITED, "RECEIVED")).to_have_count(held)
    expect(history_rows(page, LIMITED, "SUCCESS")).to_have_count(ROUND + 1)
    expect(history_rows(page, LIMITED, "STARTED")).to_have_count(0)
    for row in history_rows(page, LIMITED, "RECEIVED").all():
        expect(row).to_contain_text(hostname)
    # the worker's own log agrees: one run of the limited task since the limit
    assert runs_in_log(server, LIMITED) == ROUND + 1, server.output()[-3000:]
    assert re.search(rf"Task {re.escape(UNLIMITED)}\[[0-9a-f-]{{36}}\] raised", server.output())

    # -- the activity log keeps the change, by the admin, with the worker's reply
    page.goto(server.url + "/console/activity")
    recorded = page.locator("tr[data-action='task.rate_limit']")
    expect(recorded).to_have_count(1)
    expect(recorded).to_contain_text(ADMIN)
    expect(recorded).to_contain_text(LIMITED)
    recorded.get_by_text("Details").click()
    detail = recorded.get_by_test_id("detail")
    expect(detail).to_contain_text(RATE)
    expect(detail).to_contain_text(hostname)


# -- 2: a backlog shows on the overview and drains ----------------------------------------------
@pytest.fixture
def idle_example(tmp_path: Path) -> Iterator[LiveServer]:
    """The example served with `--no-worker`: its embedded broker, and nobody consuming."""
    folder = tmp_path / "houses"
    shutil.copytree(
        ROOT / "examples" / "houses",
        folder,
        ignore=shutil.ignore_patterns("db.sqlite*", ".flasker", "__pycache__", "*.log"),
    )
    try:
        server = LiveServer(folder / "default.cfg", "--no-worker").start()
    except ServerFailed as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Callable[[Path, str], Callable[[], str]]]:
    """`worker(cfg, name)` starts `flasker worker -n NAME --pool solo` (core's `worker_process`,
    stopped after the test) and returns a function reading its log so far."""
    with contextlib.ExitStack() as stack:

        def make(cfg: Path, name: str) -> Callable[[], str]:
            log = tmp_path / f"worker-{name.split('@')[0]}.log"
            stack.enter_context(worker_process(cfg, log, "-n", name))
            return lambda: log.read_text(errors="replace") if log.exists() else ""

        yield make


def sign_in(page: Page, server: LiveServer, dev_links: Callable[..., list[str]]) -> None:
    deadline = time.monotonic() + 10
    while not dev_links(server):
        assert time.monotonic() < deadline, f"no sign-in link printed:\n{server.output()}"
        time.sleep(0.1)
    page.goto(dev_links(server)[0])
    assert page.url == server.url + "/", page.url


def default_queue(page: Page) -> Locator:
    """The overview's row of the default queue (marked "default")."""
    return page.locator("tr[data-testid='queue']").filter(has_text="default")


def test_a_backlog_shows_on_the_overview_and_drains_when_a_worker_starts(
    page: Page,
    idle_example: LiveServer,
    worker: Callable[[Path, str], Callable[[], str]],
    dev_links: Callable[..., list[str]],
) -> None:
    server = idle_example
    sign_in(page, server, dev_links)
    overview = server.url + "/console/"
    page.goto(overview)
    card = page.get_by_test_id("workers-card")
    expect(card.get_by_test_id("workers-online")).to_have_attribute("data-count", "0", timeout=SLOW)
    queue = default_queue(page)
    expect(queue).to_have_count(1)
    expect(queue).to_have_attribute("data-messages", "0")
    name = queue.get_attribute("data-queue")
    assert name, page.content()

    # -- nobody consumes: the tasks sent wait, and the overview counts them (reloaded here as
    # an operator would; the drain below is seen on the open page, through the card's polling)
    send(page, server, LIMITED, BACKLOG)
    row = page.locator(f"tr[data-testid='queue'][data-queue='{name}']")

    def shows(messages: int) -> Callable[[], bool]:
        def check() -> bool:
            expect(row).to_have_count(1, timeout=SLOW)  # the card is fetched after the page
            return row.get_attribute("data-messages") == str(messages)

        return check

    wait_until(page, overview, shows(BACKLOG), f"{BACKLOG} waiting in {name}", server.output)
    expect(row).to_contain_text(str(BACKLOG))
    expect(row).to_contain_text("none")  # no worker consumes it
    expect(row).to_have_class(re.compile(r"\btable-warning\b"))
    expect(row).to_have_attribute("title", "no online worker consumes this queue")
    # the backlog chart under the table holds this minute's sample: the messages waiting
    chart = card.get_by_test_id("backlog-chart")
    expect(chart).to_have_attribute("data-now", str(BACKLOG))
    expect(chart.locator(f"[data-testid='backlog-bar'][data-total='{BACKLOG}']")).not_to_have_count(
        0
    )
    card.screenshot(path="/tmp/backlog.png")
    page.screenshot(path="/tmp/backlog-page.png", full_page=True)

    # -- a worker starts: it runs them all and the figure drains to 0
    worker_log = worker(server.cfg, "drain@e2e")
    # the page stays open: the Workers card polls (every 5 s) and the figure falls to 0
    expect(row).to_have_attribute("data-messages", "0", timeout=SLOW)
    # the card also lists the worker consuming the queue, which stays empty (the console asks
    # a worker its queues in a round after first hearing it: a load or two later)
    online = card.get_by_test_id("workers-online")
    consumers = row.locator("td").last
    wait_until(
        page,
        overview,
        lambda: (
            shows(0)()
            and online.get_attribute("data-count") == "1"
            and consumers.inner_text().strip() == "1"
        ),
        f"drain@e2e online, consuming {name}",
        worker_log,
    )
    expect(card).to_contain_text("drain@e2e")
    expect(row).not_to_have_class(re.compile(r"\btable-warning\b"))
    # drained by running them, not by losing them: the worker's log counts every run (the
    # figure drops once the worker has fetched them, a moment before the last has run)
    done = SUCCEEDED.format(name=re.escape(LIMITED))
    deadline = time.monotonic() + SLOW / 1000
    while len(re.findall(done, worker_log())) < BACKLOG:
        assert time.monotonic() < deadline, worker_log()[-3000:]
        page.wait_for_timeout(200)
    assert len(re.findall(done, worker_log())) == BACKLOG, worker_log()[-3000:]
