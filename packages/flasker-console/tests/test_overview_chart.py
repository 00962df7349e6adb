"""The overview's "Workers" and "Tasks, last hour" cards: the chart drawn from stored task events
(zero state, counts, one query per render), polled by htmx; the workers asked lazily; a database
or broker that is down is named on the card, never a 500 or a hanging page."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url

from flasker.testing import WorkCounter
from flasker_console import events

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def quiet_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    """A site that does not listen to events: the tests store the facts themselves."""
    return make_console(arguments="events=False, inspect_timeout=0.5")


@pytest.fixture
def site(quiet_site: ConsoleSite) -> ConsoleSite:
    quiet_site.reset()
    model = events.ensure_table(quiet_site.project)
    with quiet_site.project.db.engine.begin() as connection:
        connection.execute(model.__table__.delete())
    return quiet_site


def chart(site: ConsoleSite) -> str:
    response = site.get("/overview/tasks", headers=HTMX)
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def facts(count: int, state: str, at: datetime, prefix: str = "") -> list[events.TaskEvent]:
    return [events.TaskEvent(f"{prefix}{state}-{n}", state, at) for n in range(count)]


def test_zero_state_says_so_in_words_and_draws_no_bar(site: ConsoleSite) -> None:
    body = chart(site)
    assert '<title id="task-chart-title">Tasks per minute, last hour</title>' in body
    assert "0 succeeded, 0 failed in the last hour" in body
    assert 'data-succeeded="0" data-failed="0"' in body
    assert 'data-testid="chart-bar"' not in body
    assert 'data-state="off"' in body  # events=False: the card says why nothing arrives


def test_the_chart_counts_each_minute_of_the_last_hour(site: ConsoleSite) -> None:
    now = datetime.now(UTC)
    project = site.project
    events.store(project, facts(3, "SUCCESS", now) + facts(1, "FAILURE", now))
    events.store(project, facts(2, "SUCCESS", now - timedelta(minutes=10), "earlier-"))
    events.store(project, facts(5, "SUCCESS", now - timedelta(minutes=61), "too-old-"))
    events.store(project, facts(4, "STARTED", now))  # not an outcome: not counted
    body = chart(site)
    assert "5 succeeded, 1 failed in the last hour" in body
    assert body.count('data-testid="chart-bar"') == 2
    assert "at most 4 in one minute" in body
    # the busiest minute fills the height, failures stacked on successes
    assert 'y="30.0" width="8.0" height="90.0" fill="var(--bs-success)"' in body
    assert 'y="0.0" width="8.0" height="30.0" fill="var(--bs-danger)"' in body
    # the whole page shows the same chart, with a refresh link that works without JavaScript
    page = site.page("/")
    assert "5 succeeded, 1 failed in the last hour" in page
    assert 'hx-trigger="click, every 10s"' in page
    assert 'href="/console/"' in page.split('data-testid="chart-refresh"')[0].rsplit("<a", 1)[1]


def test_one_query_per_chart_render(site: ConsoleSite) -> None:
    now = datetime.now(UTC)
    events.store(site.project, facts(7, "SUCCESS", now) + facts(2, "FAILURE", now))
    chart(site)  # the first render also checks that the table exists
    with WorkCounter(site.project) as work:
        body = chart(site)
    assert "7 succeeded, 2 failed" in body
    assert work.queries == 1, work.statements
    assert "GROUP BY" in work.statements[0]


def test_the_partials_redirect_a_browser_without_javascript(site: ConsoleSite) -> None:
    workers = site.get("/overview/workers")
    assert workers.status_code == 302
    assert workers.headers["Location"].endswith("/console/workers")
    tasks = site.get("/overview/tasks")
    assert tasks.status_code == 302
    assert tasks.headers["Location"].endswith("/console/")


def test_the_workers_card_is_lazy_and_says_none_answer(site: ConsoleSite) -> None:
    started = time.monotonic()
    page = site.page("/")
    assert 'data-testid="workers-online"' not in page  # not asked while the page renders
    link = page.split('data-testid="workers-link"')[0].rsplit("<a", 1)[1]
    assert 'href="/console/workers"' in link
    assert 'hx-get="/console/overview/workers"' in link
    assert 'hx-trigger="load, every 5s"' in link  # then polled: a backlog shows as it grows
    response = site.get("/overview/workers", headers=HTMX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'data-testid="workers-online" data-count="0"' in body
    assert "No worker answered within 0.5 s" in body
    assert time.monotonic() - started < 5


@pytest.mark.timeout(60)
def test_a_broker_that_is_down_is_named_on_the_workers_card(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    cfg = sample_cfg + "\n[CELERY]\nbroker_url = redis://127.0.0.1:9/0\n"
    site = make_console(cfg=cfg, arguments="events=False")
    started = time.monotonic()
    response = site.get("/overview/workers", headers=HTMX)
    assert time.monotonic() - started < 4
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'data-testid="workers-problem"' in body
    assert "127.0.0.1:9" in body


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_a_database_that_is_down_is_named_on_the_chart_card(
    make_console: Callable[..., ConsoleSite], postgres_url: str
) -> None:
    site = make_console(db_url=postgres_url, arguments="events=False")
    assert "0 succeeded, 0 failed" in chart(site)
    # the database goes away under the running console
    name = make_url(postgres_url).database
    admin = create_engine(
        make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()
    site.project.db.engine.dispose()

    started = time.monotonic()
    page = site.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="chart-problem"' in html
    assert "The database did not answer" in html
    assert name in html
    response = site.get("/overview/tasks", headers=HTMX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'data-testid="chart-problem"' in body
    assert "OperationalError" in body
    assert f'database "{name}" does not exist' in html.replace("&#34;", '"') + body.replace(
        "&#34;", '"'
    )
    assert 'data-testid="task-chart"' not in body
    assert time.monotonic() - started < 8


def test_the_chart_s_geometry_scales_to_the_busiest_minute() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    minutes = [events.Minute(start + timedelta(minutes=n)) for n in range(60)]
    minutes[0].succeeded = 2
    minutes[59].succeeded, minutes[59].failed = 1, 1
    drawn = events.Chart(minutes, width=600, height=100)
    assert drawn.summary == "3 succeeded, 1 failed in the last hour"
    first, last = drawn.bars
    assert (first.x, first.width, first.succeeded_height, first.failed_height) == (1, 8, 100, 0)
    assert (last.x, last.succeeded_y, last.failed_y, last.failed_height) == (591, 50, 0, 50)
