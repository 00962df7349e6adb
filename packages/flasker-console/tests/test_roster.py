"""The workers table is asked once for every session of the process, and stays right.

Real `flasker worker` subprocesses on a Redis broker (`redis_url`): twenty sessions polling the
table at the same moment while a round runs in the background cost that one broadcast round
(four `inspect` commands, as counted by `WorkCounter`), not twenty, and none of them waits for
it; a worker that starts is listed, and one SIGKILLed is listed offline, with the events
listener on (heartbeats say who is online) and off (the periodic round that asks everyone
finds them).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import WorkCounter, wait_for, worker_process
from flasker_console.workers import COMMANDS

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
WAIT = 60.0
#: Sessions polling the table at once.
SESSIONS = 20

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(
    ConsoleManager(inspect_timeout=1.5, events={events})
)
celery = current_project.celery


@celery.task(name="{module}.add")
def add(x, y):
    return x + y
"""

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(240)]


def redis_site(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, redis_url: str, events: bool
) -> ConsoleSite:
    cfg = sample_cfg + "\n[CELERY]\nbroker_url = {redis}\n"
    return make_console(cfg=cfg, source=SOURCE, redis=redis_url, events=events)


def table(site: ConsoleSite, client: Any = None) -> str:
    """The table as the page's 3 s poll asks for it."""
    response = (client or site.client).get(
        site.url("/workers/table"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def listed(page: str) -> dict[str, bool]:
    """Hostname → online, as the table shows them."""
    rows = re.findall(r'data-hostname="([^"]+)" data-online="(true|false)"', page)
    return {hostname: online == "true" for hostname, online in rows}


def name(role: str) -> str:
    """A worker hostname no other test (or earlier run on the same Redis) uses."""
    return f"{role}-{uuid.uuid4().hex[:8]}@roster"


def test_twenty_sessions_polling_at_once_cost_one_broadcast_round(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, redis_url: str, tmp_path: Path
) -> None:
    site = redis_site(make_console, sample_cfg, redis_url, events=True)
    hostname = name("one")
    log = tmp_path / "worker.log"
    with worker_process(site.cfg, log, "-n", hostname):
        wait_for(
            lambda: listed(table(site)) == {hostname: True}, WAIT, what="worker listed", log=log
        )
        roster = site.app.extensions["flasker_console"].workers_roster()
        assert roster.wait(WAIT)
        rounds = roster.rounds
        clients = [site.app.test_client() for _ in range(SESSIONS)]
        pages: list[str] = [""] * SESSIONS
        start = threading.Barrier(SESSIONS)

        def poll(number: int) -> None:
            start.wait()
            pages[number] = table(site, clients[number])

        threads = [threading.Thread(target=poll, args=(n,)) for n in range(SESSIONS)]
        with WorkCounter(site.project) as work:
            roster.forget()  # an action: a round starts now, in the background
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert roster.wait(WAIT)
        assert [listed(page) for page in pages] == [{hostname: True}] * SESSIONS
        assert roster.rounds == rounds + 1
        assert work.broadcasts == len(COMMANDS), (
            "one round: stats, active, active_queues, registered"
        )

        # polls within the window share the table: no broadcast at all
        with WorkCounter(site.project) as again:
            assert listed(table(site)) == {hostname: True}
        assert again.broadcasts == 0


@pytest.mark.faults
@pytest.mark.parametrize("events", [True, False], ids=["events", "no-events"])
def test_a_worker_that_starts_is_listed_and_one_killed_is_listed_offline(
    make_console: Callable[..., ConsoleSite],
    sample_cfg: str,
    redis_url: str,
    tmp_path: Path,
    events: bool,
) -> None:
    site = redis_site(make_console, sample_cfg, redis_url, events=events)
    first, second = name("first"), name("second")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with worker_process(site.cfg, first_log, "-n", first) as first_process:
        wait_for(lambda: listed(table(site)) == {first: True}, WAIT, what="first", log=first_log)
        with worker_process(site.cfg, second_log, "-n", second):
            # the table is refreshed as sessions poll: the newcomer shows up by itself
            wait_for(
                lambda: listed(table(site)) == {first: True, second: True},
                WAIT,
                what="the second worker listed online beside the first",
                log=second_log,
            )
            first_process.kill()  # no warm shutdown, no worker-offline event
            first_process.wait(10)
            wait_for(
                lambda: listed(table(site)) == {first: False, second: True},
                WAIT,
                what="the killed worker listed offline, the other online",
                log=second_log,
            )
            # and it stays so: later rounds do not wait for it, nor bring it back
            roster = site.app.extensions["flasker_console"].workers_roster()
            roster.refresh_every = 1.0  # with events on, a round every 10 s: 3 of them sooner
            rounds = roster.rounds
            wait_for(lambda: table(site) and roster.rounds >= rounds + 3, WAIT, what="3 rounds")
            assert listed(table(site)) == {first: False, second: True}
