"""The console as operators meet it on a bad day, against real processes: a worker that dies
and comes back, a viewer who tries to change things, the example on PostgreSQL and Redis with
a separate worker, and a broker that does not answer.

Every server is `flasker server` in a subprocess (`flasker.testing.LiveServer`) and every worker
a real `flasker worker` subprocess; sign-in is real too (the one-time link `flasker server`
prints for the local admin, or a real OpenID Connect provider for the viewer).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from flasker.testing import LiveServer, ServerFailed

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

#: Generous: a worker needs a few seconds to import Celery and the project.
SLOW = 30_000
#: "Answers within ~2 s" with slack for a loaded CI machine.
PROMPT = 5.0
#: The overview's chart polls every 10 s: two rounds.
CHART = 20_000
#: A port nothing listens on: the broker of a project whose broker is down.
DEAD_BROKER = "redis://127.0.0.1:1/0"
#: A Redis database of this file's own (the `redis_url` fixture's are 1..15 by xdist worker).
REDIS_DB = 13


# -- projects and processes -------------------------------------------------------------------
def start(server: LiveServer) -> LiveServer:
    try:
        return server.start()
    except ServerFailed as error:
        pytest.fail(str(error), pytrace=False)


@contextlib.contextmanager
def serving(cfg: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    server = start(LiveServer(cfg, env=env))
    try:
        yield server
    finally:
        server.stop()


class Worker:
    """`flasker worker -n NAME` for a cfg: one solo process, so a kill leaves nothing behind."""

    def __init__(self, cfg: Path, name: str, log: Path, env: dict[str, str]) -> None:
        self.cfg, self.name, self.log, self.env = cfg, name, log, env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        command = [sys.executable, "-m", "flasker", "-c", str(self.cfg), "worker"]
        command += ["-n", self.name, "--pool", "solo", "--loglevel", "INFO"]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        environment.pop("FLASKER_CONFIG", None)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, stdout=output, stderr=subprocess.STDOUT, env=environment
            )
        return self

    def kill(self) -> None:
        """SIGKILL: the worker dies without saying goodbye, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-30:])


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    """`workers(cfg, name, env=None)`: a started `Worker`; every one is stopped after the test."""
    started: list[Worker] = []

    def make(cfg: Path, name: str, env: dict[str, str] | None = None) -> Worker:
        log = tmp_path / f"worker-{name.split('@')[0]}.log"
        worker = Worker(cfg, name, log, env or {}).start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop()


def sign_in_as_admin(page: Page, server: LiveServer, dev_links: Callable[..., list[str]]) -> None:
    """Through the one-time link the server printed (it waits a moment for the line)."""
    deadline = time.monotonic() + 10
    while not dev_links(server):
        assert time.monotonic() < deadline, f"no sign-in link printed:\n{server.output()}"
        time.sleep(0.1)
    page.goto(dev_links(server)[0])
    assert page.url == server.url + "/", page.url


#: Script errors per page (a failed htmx swap stops the page's polling: say so on failure).
SCRIPT_ERRORS: dict[int, list[str]] = {}


def watch_errors(page: Page) -> None:
    errors = SCRIPT_ERRORS.setdefault(id(page), [])
    page.on("pageerror", lambda error: errors.append(str(error)))


def has_htmx(page: Page) -> bool:
    return bool(page.evaluate("() => typeof window.htmx !== 'undefined'"))


def worker_row(page: Page, hostname: str) -> Any:
    return page.locator(f"tr[data-testid='worker'][data-hostname='{hostname}']")


def wait_for_worker(page: Page, hostname: str, online: bool, worker: Worker) -> None:
    """The workers page shows `hostname` online (or offline), by its own 3 s polling; without
    htmx (its file not fetched at build time), by reloading as an operator would."""
    expected = "true" if online else "false"
    row = worker_row(page, hostname)
    if has_htmx(page):
        try:
            expect(row).to_have_attribute("data-online", expected, timeout=SLOW)
        except AssertionError as error:
            scripts = "\n".join(SCRIPT_ERRORS.get(id(page), [])) or "none"
            raise AssertionError(
                f"{error}\nscript errors on the page:\n{scripts}\nworker log:\n{worker.tail()}"
            ) from None
        return
    deadline = time.monotonic() + SLOW / 1000
    while True:
        if row.count() == 1 and row.get_attribute("data-online") == expected:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{hostname} never shown online={online}; worker log:\n{worker.tail()}")
        time.sleep(1)
        page.reload()


def timed_goto(page: Page, url: str) -> float:
    """Open `url`; the seconds it took (the page must answer, below 500)."""
    began = time.monotonic()
    response = page.goto(url)
    seconds = time.monotonic() - began
    assert response is not None, url
    assert response.status < 500, (url, response.status)
    return seconds


# -- a: a worker dies and comes back -----------------------------------------------------------
def test_a_killed_worker_shows_offline_then_online_again_when_restarted(
    page: Page, example_server: LiveServer, workers: Callable[..., Worker]
) -> None:
    hostname = "ops1@e2e"
    watch_errors(page)
    worker = workers(example_server.cfg, hostname)
    page.goto(example_server.url + "/console/workers")
    wait_for_worker(page, hostname, online=True, worker=worker)
    expect(worker_row(page, hostname)).to_contain_text("online")

    worker.kill()
    wait_for_worker(page, hostname, online=False, worker=worker)
    row = worker_row(page, hostname)
    expect(row).to_contain_text("offline")
    expect(row).to_contain_text(re.compile(r"seen \d\d:\d\d:\d\d"))
    # the embedded worker stays online beside it
    expect(page.locator("tr[data-testid='worker'][data-online='true']")).not_to_have_count(0)

    again = workers(example_server.cfg, hostname)
    wait_for_worker(page, hostname, online=True, worker=again)
    expect(worker_row(page, hostname)).to_have_count(1)
    expect(worker_row(page, hostname)).to_contain_text("online")


# -- b: a viewer reads, and cannot change anything ---------------------------------------------
@pytest.fixture
def oidc_provider(oidc_provider_module: Any) -> Iterator[Any]:
    provider = oidc_provider_module.OidcProvider().start()
    try:
        yield provider
    finally:
        provider.stop()


VIEWER = "viewer@example.test"


def csrf_token_of(page: Page) -> str:
    """The token every htmx request of the page sends (`<body hx-headers>`)."""
    headers = page.locator("body").get_attribute("hx-headers")
    assert headers, "the page has no hx-headers"
    return str(json.loads(headers)["X-CSRFToken"])


def test_a_viewer_reads_everything_and_can_change_nothing(
    example_copy: Callable[..., Path], page: Page, tmp_path: Path, oidc_provider: Any
) -> None:
    oidc_provider.register_client("e2e-console", "e2e-console-secret")
    oidc_provider.login_as(VIEWER, name="Vera Viewer")
    cfg = example_copy(
        tmp_path / "houses",
        {
            "AUTH": {
                "PROVIDER": "e2e",
                "SERVER_METADATA_URL": oidc_provider.metadata_url,
                "CLIENT_ID": "e2e-console",
                "CLIENT_SECRET": "${E2E_CLIENT_SECRET}",
                "AUTHORIZED_EMAILS": VIEWER,
            }
        },
    )
    env = {"E2E_CLIENT_SECRET": "e2e-console-secret"}
    with serving(cfg, env) as server:
        # a real sign-in: the app sends the browser to the provider and back
        page.goto(server.url + "/console/")
        expect(page.get_by_test_id("operator")).to_contain_text(VIEWER, timeout=SLOW)
        expect(page.get_by_test_id("operator")).to_contain_text("viewer")
        expect(page.get_by_test_id("read-only")).to_be_visible()
        assert oidc_provider.calls("/token"), "the provider was not used"

        page.goto(server.url + "/console/config")
        expect(page.get_by_test_id("editor")).to_be_visible()
        fields = page.locator("[data-testid='editor'] input[name^='value:']")
        expect(fields.first).to_be_visible()
        assert fields.count() > 3
        editable = page.locator(
            "[data-testid='editor'] :is(input, textarea, select):not([type=hidden])"
            ":not([readonly]):not([disabled])"
        )
        expect(editable).to_have_count(0)
        expect(page.get_by_role("button", name="Preview changes")).to_have_count(0)
        expect(page.get_by_role("button", name=re.compile("^Save"))).to_have_count(0)
        page.goto(server.url + "/console/config/raw")
        expect(page.get_by_role("button", name=re.compile("^(Save|Preview)"))).to_have_count(0)

        page.goto(server.url + "/console/tasks")
        expect(page.get_by_role("heading", name="Registered tasks")).to_be_visible()
        expect(page.get_by_text(re.compile(r"\.census\("))).to_be_visible()
        expect(page.locator("form[data-testid^='send-']")).to_have_count(0)
        expect(page.get_by_role("button", name="Send")).to_have_count(0)

        page.goto(server.url + "/console/workers")
        # the server's embedded worker (prefork: an admin would get pool buttons on its row)
        online = page.locator("tr[data-testid='worker'][data-online='true']")
        expect(online).not_to_have_count(0, timeout=SLOW)
        expect(page.locator("#workers button, #workers form")).to_have_count(0)

        # a hand-made request with the viewer's cookie and a valid token: refused, no change
        before = cfg.read_bytes()
        token = csrf_token_of(page)
        text = before.decode("utf-8")
        forged = {
            "csrf_token": token,
            "base": base64.b64encode(before).decode("ascii"),
            "text": text + "# written by a viewer\n",
            "action": "save",
        }
        refused = page.request.post(server.url + "/console/config/raw", form=forged)
        assert refused.status == 403, refused.text()
        assert "Traceback" not in refused.text()
        send = {"csrf_token": token, "task": "houses.tasks.census"}
        assert page.request.post(server.url + "/console/tasks", form=send).status == 403
        # the token was good: without it the same request fails the CSRF check instead
        bad = page.request.post(
            server.url + "/console/config/raw", form={**forged, "csrf_token": "forged"}
        )
        assert bad.status == 400, bad.text()
        assert cfg.read_bytes() == before

        page.goto(server.url + "/console/tasks")
        expect(page.get_by_test_id("no-sent")).to_be_visible()


# -- c: PostgreSQL, Redis and a separate worker ------------------------------------------------
@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    """A Redis database of this file's own, emptied before and after."""
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def test_the_distributed_example_runs_a_task_sent_from_the_console(
    example_copy: Callable[..., Path],
    page: Page,
    tmp_path: Path,
    postgres_url: str,
    redis_db: str,
    workers: Callable[..., Worker],
    dev_links: Callable[..., list[str]],
) -> None:
    cfg = example_copy(
        tmp_path / "houses",
        {
            "PROJECT": {"DB_URL": postgres_url},
            "CELERY": {"broker_url": redis_db, "result_backend": redis_db},
        },
    )
    with serving(cfg) as server:
        assert server.embedded_worker_pid() is None, server.output()
        assert "start workers with 'flasker worker'" in server.output()
        worker = workers(cfg, "dist@e2e")
        sign_in_as_admin(page, server, dev_links)

        page.goto(server.url + "/console/")
        expect(page.get_by_test_id("check-database")).to_have_attribute("data-ok", "true")
        expect(page.get_by_test_id("check-database")).to_contain_text("postgresql")
        expect(page.get_by_test_id("check-broker")).to_have_attribute("data-ok", "true")
        expect(page.get_by_test_id("check-broker")).to_contain_text(f"6379/{REDIS_DB}")

        page.goto(server.url + "/console/workers")
        wait_for_worker(page, "dist@e2e", online=True, worker=worker)
        # only the separate worker: the server started none of its own
        expect(page.locator("tr[data-testid='worker'][data-online='true']")).to_have_count(1)

        page.goto(server.url + "/console/tasks")
        page.locator("form[data-testid$='.census']").get_by_role("button", name="Send").click()
        expect(page.get_by_test_id("sent")).to_be_visible(timeout=SLOW)
        census = page.locator("tr[data-name$='.census']")
        expect(census).to_have_count(1, timeout=SLOW)
        if not has_htmx(page):
            deadline = time.monotonic() + SLOW / 1000
            while census.get_attribute("data-state") != "SUCCESS":
                assert time.monotonic() < deadline, worker.tail()
                time.sleep(1)
                page.reload()
        try:
            expect(census).to_have_attribute("data-state", "SUCCESS", timeout=SLOW)
        except AssertionError as error:
            raise AssertionError(f"{error}\nworker log:\n{worker.tail()}") from None
        # the seeded houses, counted in PostgreSQL by the separate worker
        expect(census.get_by_test_id("result")).to_contain_text("42 Wallaby Way, Sydney")
        assert "dist@e2e" in worker.log.read_text(errors="replace")

        # the worker's task events reach the console's listener over Redis: the overview's
        # "Tasks, last hour" chart counts the census (it polls every 10 s)
        page.goto(server.url + "/console/")
        expect(page.get_by_role("heading", name="Tasks, last hour")).to_be_visible()
        chart = page.get_by_test_id("task-chart")
        if not has_htmx(page):
            deadline = time.monotonic() + CHART / 1000
            while chart.get_attribute("data-succeeded") in (None, "0"):
                assert time.monotonic() < deadline, server.output()
                time.sleep(1)
                page.reload()
        totals = page.get_by_test_id("chart-totals")
        try:
            expect(totals).to_contain_text(re.compile(r"\b[1-9]\d* succeeded"), timeout=CHART)
        except AssertionError as error:
            listener = page.get_by_test_id("listener-state").inner_text()
            raise AssertionError(f"{error}\nlistener: {listener}\n{server.output()}") from None
        expect(chart).to_have_attribute("data-succeeded", re.compile(r"^[1-9]\d*$"))
        expect(page.get_by_test_id("listener-state")).to_have_attribute("data-state", "listening")


# -- d: the broker does not answer -------------------------------------------------------------
def test_every_page_says_promptly_that_the_broker_is_down(
    example_copy: Callable[..., Path],
    page: Page,
    tmp_path: Path,
    dev_links: Callable[..., list[str]],
) -> None:
    cfg = example_copy(
        tmp_path / "houses", {"CELERY": {"broker_url": DEAD_BROKER, "result_backend": DEAD_BROKER}}
    )
    with serving(cfg) as server:
        sign_in_as_admin(page, server, dev_links)

        seconds = timed_goto(page, server.url + "/console/")
        assert seconds < PROMPT, f"the overview took {seconds:.1f} s"
        broker = page.get_by_test_id("check-broker")
        expect(broker).to_have_attribute("data-ok", "false")
        expect(broker).to_contain_text("127.0.0.1:1")
        expect(page.get_by_test_id("check-database")).to_have_attribute("data-ok", "true")

        seconds = timed_goto(page, server.url + "/console/workers")
        assert seconds < PROMPT, f"the workers page took {seconds:.1f} s"
        down = page.get_by_test_id("broker-down")
        expect(down).to_be_visible()
        expect(down).to_contain_text("127.0.0.1:1")

        seconds = timed_goto(page, server.url + "/console/tasks")
        assert seconds < PROMPT, f"the tasks page took {seconds:.1f} s"
        began = time.monotonic()
        page.locator("form[data-testid$='.census']").get_by_role("button", name="Send").click()
        refused = page.get_by_text(re.compile(r"could not send \S+census: the broker is down"))
        expect(refused).to_be_visible(timeout=PROMPT * 1000)
        assert time.monotonic() - began < PROMPT
        expect(refused).to_contain_text("127.0.0.1:1")
        assert "Traceback" not in page.content()
        # nothing was stored as sent
        page.goto(server.url + "/console/tasks")
        expect(page.get_by_test_id("no-sent")).to_be_visible()
