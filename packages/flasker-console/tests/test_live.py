"""The live state (live.py) and the workers table rendered from it (roster.py).

A real `flasker worker` subprocess, on the embedded broker and on Redis, sends heartbeats every
second (`--heartbeat-interval 1`): the table lists it online from them, with its counts, and
after a SIGKILL (no worker-offline event) lists it offline within two missed heartbeats plus
`live.MARGIN`. Rendering the table costs no broadcast once the state exists (counted by
`WorkCounter`, which sees every thread). The rules themselves are checked on events as the
Receiver hands them over.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import WorkCounter, wait_for, worker_process
from flasker_console.live import MARGIN, MISSED, LiveState

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
HTMX = {"HX-Request": "true"}
#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
WAIT = 60.0
#: The workers' heartbeat period in these tests (Celery's default is 2 s).
FREQ = 1.0
#: How often the test asks the table while it waits for the worker to turn offline.
POLL = 0.1
#: Seconds a heartbeat sent just before the kill may take to be heard (the embedded broker is
#: polled every second), plus half a second for a busy machine.
LATE = 1.5
#: Renders counted for broadcasts.
RENDERS = 20

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=1.5))
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x, y):
    return x + y


@celery.task(name="{module}.boom")
def boom():
    raise LookupError("boom on purpose")
"""


def table(site: ConsoleSite) -> str:
    response = site.get("/workers/table", headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def rows(page: str) -> dict[str, dict[str, str]]:
    """Hostname → the row's online flag and counts, as the table shows them."""
    found: dict[str, dict[str, str]] = {}
    for row in re.findall(r'<tr data-testid="worker"(.*?)</tr>', page, re.S):
        hostname = re.search(r'data-hostname="([^"]+)"', row)
        assert hostname is not None, row
        cells = dict(re.findall(r'data-(processed|failed|active)="([^"]*)"', row))
        online = re.search(r'data-online="(true|false|joining)"', row)
        assert online is not None, row
        found[hostname.group(1)] = {"online": online.group(1), **cells}
    return found


# -- the rules, on events as the Receiver gives them ----------------------------------------
def heartbeat(hostname: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": "worker-heartbeat",
        "hostname": hostname,
        "timestamp": time.time(),
        "freq": FREQ,
        "active": 1,
        "processed": 7,
        "loadavg": [0.5, 0.25, 0.125],
        "sw_ident": "py-celery",
        "sw_ver": "5.7.0",
        "clock": 1,
        **fields,
    }


def test_a_worker_is_online_until_two_heartbeats_are_missed() -> None:
    live = LiveState()
    live.feed(heartbeat("a@host"))
    heard = live.workers()[0].last_heard
    (worker,) = live.workers(heard + MISSED * FREQ + MARGIN)
    assert (worker.hostname, worker.online, worker.freq) == ("a@host", True, FREQ)
    assert (worker.processed, worker.active, worker.failed) == (7, 1, 0)
    assert worker.loadavg == (0.5, 0.25, 0.125)
    assert worker.software == "py-celery 5.7.0"
    (late,) = live.workers(heard + MISSED * FREQ + MARGIN + 0.01)
    assert (late.online, late.active, late.processed) == (False, None, 7)
    assert live.online(heard + 1) == {"a@host": heard}


def test_a_worker_offline_event_is_offline_at_once_and_failures_are_counted() -> None:
    live = LiveState()
    live.feed(heartbeat("a@host", freq=None))  # no freq: Celery's default 2 s
    live.feed(heartbeat("b@host"))
    for number in range(3):
        live.feed(
            {
                "type": "task-failed",
                "hostname": "a@host",
                "uuid": f"t{number}",
                "timestamp": time.time(),
                "exception": "LookupError('boom')",
                "clock": 2 + number,
            }
        )
    live.feed({"type": "worker-offline", "hostname": "b@host", "timestamp": time.time()})
    first, second = live.workers()
    assert (first.hostname, first.online, first.freq, first.failed) == ("a@host", True, 2.0, 3)
    assert (second.hostname, second.online) == ("b@host", False)
    assert sorted(live.state.tasks) == ["t0", "t1", "t2"]  # Celery's State has every task
    assert live.online() == {"a@host": first.last_heard}
    assert live.events == 6


def test_processed_counts_the_tasks_heard_starting_and_what_heartbeats_counted() -> None:
    live = LiveState()
    live.feed(heartbeat("a@host"))
    for number in range(2):
        started = {"type": "task-started", "hostname": "a@host", "uuid": f"s{number}"}
        live.feed({**started, "timestamp": time.time(), "clock": 2 + number})
    assert live.workers()[0].processed == 9
    live.feed(heartbeat("a@host", processed=8))  # a heartbeat a little behind the events
    assert live.workers()[0].processed == 9
    live.feed(heartbeat("a@host", processed=10))  # one started that this process missed
    assert live.workers()[0].processed == 10


def test_a_malformed_event_is_ignored() -> None:
    live = LiveState()
    live.feed(heartbeat("a@host", freq="often", loadavg="high", processed="many"))
    (worker,) = live.workers()
    assert (worker.freq, worker.loadavg, worker.processed) == (2.0, (), None)


# -- a real worker -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.faults
@pytest.mark.timeout(240)
@pytest.mark.parametrize("broker", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_the_table_lists_a_worker_from_its_heartbeats_and_a_killed_one_offline_in_two(
    make_console: Callable[..., ConsoleSite],
    sample_cfg: str,
    tmp_path: Path,
    broker: str,
    request: pytest.FixtureRequest,
) -> None:
    if broker == "redis":
        redis_url = request.getfixturevalue("redis_url")
        cfg = sample_cfg + f"\n[CELERY]\nbroker_url = {redis_url}\n"
        site = make_console(cfg=cfg, source=SOURCE)
    else:
        site = make_console(source=SOURCE)
    console = site.app.extensions["flasker_console"]
    hostname = f"live-{uuid.uuid4().hex[:8]}@test"
    log = tmp_path / "worker.log"
    table(site)  # the first console request starts the listener
    with worker_process(
        site.cfg, log, "-n", hostname, "--heartbeat-interval", str(int(FREQ))
    ) as process:
        wait_for(
            lambda: rows(table(site)).get(hostname, {}).get("online") == "true",
            WAIT,
            what="the worker listed online",
            log=log,
        )
        live = console.live_state()
        wait_for(lambda: hostname in live.online(), WAIT, what="a heartbeat", log=log)
        (heard,) = [w for w in live.workers() if w.hostname == hostname]
        assert heard.freq == FREQ

        # a task that fails on it: counted from its event
        (boom,) = [name for name in site.project.celery.tasks if name.endswith(".boom")]
        site.project.celery.send_task(boom)
        wait_for(
            lambda: rows(table(site))[hostname].get("failed") == "1",
            WAIT,
            what="one failure counted",
            log=log,
        )

        # once the state exists, rendering the table asks no worker
        roster = console.workers_roster()
        assert roster.wait(WAIT)
        roster.refresh_every = roster.full_every = 3600.0
        table(site)  # a round may be due once more: let it start and end
        assert roster.wait(WAIT)
        with WorkCounter(site.project) as work:
            pages = [table(site) for _ in range(RENDERS)]
        assert work.broadcasts == 0
        assert [rows(page)[hostname]["online"] for page in pages] == ["true"] * RENDERS

        process.kill()  # no warm shutdown, no worker-offline event
        killed = time.monotonic()
        process.wait(10)
        last = live.workers()
        wait_for(
            lambda: rows(table(site))[hostname]["online"] == "false",
            WAIT,
            interval=POLL,
            what="the killed worker listed offline",
            log=log,
        )
        took = time.monotonic() - killed
        print(f"{broker}: listed offline {took:.2f} s after the SIGKILL")
        (before,) = [w for w in last if w.hostname == hostname]
        # offline two periods (plus the margin) after the last heartbeat heard
        assert took <= MISSED * FREQ + MARGIN + LATE + POLL, took
        assert time.time() - before.last_heard >= MISSED * FREQ + MARGIN
        row = rows(table(site))[hostname]
        assert (row["online"], row["active"], row["failed"]) == ("false", "", "1")
