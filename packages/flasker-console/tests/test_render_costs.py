"""What one render of the workers table and the overview's cards costs, counted (issue 15).

- The workers table asks for one CSRF token and builds each action URL once per render,
  however many workers it lists (they were asked per row and per form: 81 `url_for` and 40
  tokens for 20 workers).
- The overview's checks of the database and the broker, the queue lengths of its workers
  card and its read of the cfg are shared by every request of the process for
  `health.FRESH_FOR` seconds (`health.Recent`): N requests in that window run them once, one
  request at a time, the others taking the last answer. What changes the answer is seen at
  once all the same: a cfg written on disk, a task published by this process. The page's
  "Tasks, last hour" chart is read once in that window too (the card's own 10 s poll always
  reads it, and leaves what it read to the page).

Counts come from counting wrappers that call the real functions through, and `WorkCounter`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from flasker.testing import WorkCounter
from flasker_console import editing, events, health, queues
from flasker_console.health import Recent
from flasker_console.live import LiveState

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
HTMX = {"HX-Request": "true"}
#: Requests made inside one cache window.
REQUESTS = 5

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(inspect_timeout=0.2, events=False))
"""


class Counted:
    """`function`, called through, its calls counted."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls += 1
        return self.function(*args, **kwargs)


@pytest.fixture(scope="module")
def costs_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=SOURCE)


@pytest.fixture
def site(costs_site: ConsoleSite) -> Iterator[ConsoleSite]:
    """The site with an empty `Recent` whose values stay fresh for the whole test (so a slow
    machine cannot end the window between two requests)."""
    costs_site.reset()
    recent = health.recent(costs_site.project)
    recent.forget()
    recent.fresh_for = 600.0
    yield costs_site
    recent.fresh_for = health.FRESH_FOR
    recent.forget()


# -- the workers table ------------------------------------------------------------------------
def heartbeat(hostname: str) -> dict[str, Any]:
    return {
        "type": "worker-heartbeat",
        "hostname": hostname,
        "timestamp": time.time(),
        "freq": 60.0,
        "active": 0,
        "processed": 3,
        "loadavg": [0.5, 0.25, 0.125],
    }


def table_with(
    site: ConsoleSite, workers: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int, str]:
    """Render the table with `workers` online (heard on a live state): the `generate_csrf`
    and `url_for` calls of that render, and the table."""
    import flask_wtf.csrf

    state = LiveState()
    for number in range(workers):
        state.feed(heartbeat(f"w{number:02d}@costs"))
    roster = site.app.extensions["flasker_console"].workers_roster()
    monkeypatch.setattr(roster, "live", lambda: state)
    site.get("/workers/table", headers=HTMX)  # warm-up: the compiled template, a first round
    assert roster.wait(30)
    csrf = Counted(flask_wtf.csrf.generate_csrf)
    urls = Counted(site.app.jinja_env.globals["url_for"])
    monkeypatch.setattr(flask_wtf.csrf, "generate_csrf", csrf)
    monkeypatch.setitem(site.app.jinja_env.globals, "url_for", urls)
    response = site.get("/workers/table", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    monkeypatch.undo()
    assert f'data-online="{workers}"' in html
    tokens = set(re.findall(r'name="csrf_token" value="([^"]*)"', html))
    assert len(tokens) == 1, tokens  # every form has the same token
    assert tokens != {""}
    assert html.count('data-testid="shutdown-') == workers
    assert html.count('data-testid="add-consumer-') == workers
    return csrf.calls, urls.calls, html


def test_the_workers_table_asks_one_csrf_token_and_builds_each_url_once(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one token; url_for: the table's own poll URL and the four action URLs, whatever the rows
    assert table_with(site, 1, monkeypatch)[:2] == (1, 5)
    assert table_with(site, 20, monkeypatch)[:2] == (1, 5)


def test_forms_of_the_table_post_where_they_did(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    html = table_with(site, 2, monkeypatch)[2]
    for action in ("workers/consumers", "workers/shutdown"):
        url = f"/console/{action}"
        assert html.count(f'action="{url}" hx-post="{url}"') == 2, action


# -- the overview's cards -----------------------------------------------------------------------
def checks_counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counted]:
    """The database and broker checks the overview runs (core's), counted."""
    counted = {
        "database": Counted(health.check_database),
        "broker": Counted(health.check_broker),
    }
    monkeypatch.setattr(health, "check_database", counted["database"])
    monkeypatch.setattr(health, "check_broker", counted["broker"])
    return counted


def test_status_requests_in_one_window_check_the_services_once(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = checks_counted(monkeypatch)
    for _ in range(REQUESTS):
        answer = site.get("/status", headers=HTMX)
        assert answer.status_code == 200
        body = answer.get_data(as_text=True)
        assert 'data-testid="check-database" data-ok="true"' in body
        assert 'data-testid="check-broker" data-ok="true"' in body
    page = site.page("/")  # the overview page shares them
    assert 'data-testid="check-database" data-ok="true"' in page
    assert {name: check.calls for name, check in counted.items()} == {"database": 1, "broker": 1}


def test_after_the_window_the_services_are_checked_again(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = checks_counted(monkeypatch)
    health.recent(site.project).fresh_for = 0.0
    for _ in range(3):
        assert site.get("/status", headers=HTMX).status_code == 200
    assert {name: check.calls for name, check in counted.items()} == {"database": 3, "broker": 3}


def test_the_workers_card_counts_the_queues_once_until_this_process_publishes(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = Counted(queues.queue_lengths)
    monkeypatch.setattr(queues, "queue_lengths", counted)

    def waiting() -> str:
        answer = site.get("/overview/workers", headers=HTMX)
        assert answer.status_code == 200
        found = re.search(r'data-queue="celery" data-messages="(\d*)"', answer.get_data(True))
        assert found is not None
        return found.group(1)

    before = int(waiting())
    for _ in range(REQUESTS):
        assert waiting() == str(before)
    assert counted.calls == 1
    site.project.celery.send_task("nobody.runs.this", args=(1,))
    assert waiting() == str(before + 1)  # a task sent from this process counts at once
    assert counted.calls == 2


def test_the_overview_reads_the_cfg_once_until_the_file_changes(
    site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = Counted(editing.open_edit)
    monkeypatch.setattr(editing, "open_edit", opened)
    for _ in range(REQUESTS):
        assert "[LOGGING]" in site.page("/")
    assert opened.calls == 1
    site.cfg.write_text(site.original + "\n[EXTRA]\nKEY = 1\n", encoding="utf-8")
    assert "[EXTRA]" in site.page("/")  # written on disk: read again at once
    assert opened.calls == 2


def test_overview_pages_in_one_window_read_the_chart_once(site: ConsoleSite) -> None:
    site.page("/")  # warm-up: the events table is created
    health.recent(site.project).forget()
    with WorkCounter(site.project) as work:
        for _ in range(REQUESTS):
            assert "0 succeeded, 0 failed in the last hour" in site.page("/")
    assert [s for s in work.statements if "GROUP BY" in s] == work.statements
    assert work.queries == 1, work.statements
    # the card's own poll always reads the database, and the page shows what it read
    now = datetime.now(UTC)
    events.store(site.project, [events.TaskEvent(f"done-{n}", "SUCCESS", now) for n in range(3)])
    assert 'data-succeeded="3"' in site.get("/overview/tasks", headers=HTMX).get_data(True)
    assert "3 succeeded, 0 failed in the last hour" in site.page("/")


# -- health.Recent ------------------------------------------------------------------------------
def test_one_computation_at_a_time_the_others_wait_for_the_first_value() -> None:
    recent = Recent()
    release = threading.Event()
    computed = Counted(lambda: release.wait(30) and "value")
    answers: list[str] = []
    threads = [
        threading.Thread(target=lambda: answers.append(recent.get("k", computed)))
        for _ in range(REQUESTS)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(30)
    assert answers == ["value"] * REQUESTS
    assert computed.calls == recent.computed == 1


def test_a_stale_value_is_served_while_one_request_refreshes_it() -> None:
    recent = Recent(fresh_for=0.0)
    assert recent.get("k", lambda: "old") == "old"
    release, started = threading.Event(), threading.Event()

    def slow() -> str:
        started.set()
        release.wait(30)
        return "new"

    refresher = threading.Thread(target=lambda: recent.get("k", slow))
    refresher.start()
    assert started.wait(30)
    computed = Counted(lambda: "third")
    assert recent.get("k", computed) == "old"  # not a second computation in flight
    assert computed.calls == 0
    release.set()
    refresher.join(30)
    assert recent.get("k", lambda: "newer") == "newer"  # fresh_for 0: computed again


def test_a_computation_that_raises_lets_the_next_request_compute() -> None:
    recent = Recent()

    def broken() -> str:
        raise RuntimeError("down")

    with pytest.raises(RuntimeError):
        recent.get("k", broken)
    assert recent.get("k", lambda: "up") == "up"


def test_an_equal_value_put_keeps_the_object_kept() -> None:
    recent = Recent()
    first = [1, 2]
    recent.put("k", first)
    recent.put("k", [1, 2])  # the chart poll read the same chart: the page's drawing stands
    assert recent.get("k", list) is first
    recent.put("k", [3])
    assert recent.get("k", list) == [3]
