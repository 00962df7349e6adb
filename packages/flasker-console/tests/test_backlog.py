"""The queues' backlog over time (backlog.py): samples kept per minute, the overview's chart,
the background sampler and the queue lengths in /metrics.

Messages are published to the default queue with no worker running, so they stay waiting, on
the embedded broker and on Redis; samples are stored in SQLite and PostgreSQL for real.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from flasker_console import backlog
from flasker_console.queues import QueueLength, QueueLengths

ConsoleSite = Any
HTMX = {"HX-Request": "true"}
NOW = datetime(2026, 12, 5, 12, 30, 20, tzinfo=UTC)

QUIET = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(
    ConsoleManager(inspect_timeout=0.3, check_timeout=2.0, events=False)
)
"""


def lengths(**counts: int | None) -> QueueLengths:
    return QueueLengths([QueueLength(name, n) for name, n in sorted(counts.items())])


def stored(site: ConsoleSite) -> dict[tuple[int, str], int]:
    table = backlog.ensure_table(site.project)
    with site.project.db.engine.connect() as connection:
        rows = connection.execute(select(table)).all()
    return {(minute, queue): messages for minute, queue, messages in rows}


def publish(site: ConsoleSite, count: int) -> None:
    for number in range(count):
        site.project.celery.send_task("nobody.runs.this", args=(number,))


def card(site: ConsoleSite) -> str:
    answer = site.get("/overview/workers", headers=HTMX)
    assert answer.status_code == 200
    return str(answer.get_data(as_text=True))


def chart_of(page: str) -> dict[str, str]:
    found = re.search(
        r'data-testid="backlog-chart" data-now="(\d*)" data-peak="(\d+)" data-trend="(\w*)"', page
    )
    assert found, page
    return dict(zip(("now", "peak", "trend"), found.groups(), strict=True))


def forget_process_memory(site: ConsoleSite) -> None:
    """What another console process would be: it has not written this minute yet."""
    backlog._peaks.pop(site.project, None)
    backlog._latest.pop(site.project, None)


@pytest.fixture
def quiet(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(source=QUIET)


def check_samples_only_rise(site: ConsoleSite) -> None:
    minute = backlog.minute_of(NOW)
    assert backlog.record(site.project, lengths(celery=4, mail=0), NOW) == 2
    assert backlog.record(site.project, lengths(celery=4, mail=0), NOW) == 0  # nothing new
    assert backlog.record(site.project, lengths(celery=2, mail=1), NOW) == 1  # mail rose
    forget_process_memory(site)  # a second process, which saw less: it lowers nothing
    backlog.record(site.project, lengths(celery=3, mail=0), NOW)
    assert stored(site) == {(minute, "celery"): 4, (minute, "mail"): 1}
    forget_process_memory(site)  # a second process that saw more raises the peak
    backlog.record(site.project, lengths(celery=9, mail=None), NOW)  # unknown: not stored
    backlog.record(site.project, lengths(celery=0), NOW + timedelta(minutes=1))
    assert stored(site) == {
        (minute, "celery"): 9,
        (minute, "mail"): 1,
        (minute + 1, "celery"): 0,
    }


def test_a_minute_keeps_the_most_messages_seen_whoever_sampled_it(quiet: ConsoleSite) -> None:
    check_samples_only_rise(quiet)


@pytest.mark.postgres
def test_the_same_upsert_on_postgresql(
    make_console: Callable[..., ConsoleSite], postgres_url: str
) -> None:
    site = make_console(source=QUIET, db_url=postgres_url)
    try:
        check_samples_only_rise(site)
    finally:
        site.project.db.dispose()


def test_a_sample_that_adds_nothing_costs_no_statement(quiet: ConsoleSite) -> None:
    backlog.record(quiet.project, lengths(celery=5), NOW)
    statements: list[str] = []
    engine = quiet.project.db.engine
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for _ in range(20):
        backlog.record(quiet.project, lengths(celery=5), NOW)
    assert statements == []


def test_the_chart_shows_sampled_minutes_and_calls_a_rising_backlog_growing(
    quiet: ConsoleSite,
) -> None:
    for minutes_ago, count in ((12, 0), (6, 10), (3, 40), (0, 90)):
        at = NOW - timedelta(minutes=minutes_ago)
        backlog.record(quiet.project, lengths(celery=count, mail=count // 10), at)
    chart = backlog.last_hour(quiet.project, NOW)
    assert len(chart.minutes) == 60
    assert [m.total for m in chart.sampled] == [0, 11, 44, 99]
    assert (chart.now, chart.peak, chart.trend) == (99, 99, "growing")
    bars = chart.bars
    assert len(bars) == 4  # unsampled minutes draw nothing
    assert bars[0].height == 1.0  # an empty queue: a thin line, not nothing
    assert bars[-1].height == chart.height
    assert chart.sampled[-1].label == "12:30 UTC: 99 waiting (celery 90, mail 9)"
    backlog.record(quiet.project, lengths(celery=5), NOW + timedelta(minutes=1))
    assert backlog.last_hour(quiet.project, NOW + timedelta(minutes=1)).trend == "draining"


def test_the_overview_card_draws_the_backlog_the_workers_do_not_take(quiet: ConsoleSite) -> None:
    assert chart_of(card(quiet)) == {"now": "0", "peak": "0", "trend": ""}
    # ten minutes ago the queue was empty; now 12 messages wait: growing, at a glance
    backlog.record(quiet.project, lengths(celery=0), datetime.now(UTC) - timedelta(minutes=10))
    publish(quiet, 12)
    page = card(quiet)
    assert chart_of(page) == {"now": "12", "peak": "12", "trend": "growing"}
    assert 'data-testid="backlog-growing"' in page
    assert len(re.findall(r'data-testid="backlog-bar"', page)) == 2


def test_the_sampler_records_while_no_page_is_open(make_console: Callable[..., Any]) -> None:
    site = make_console(arguments="inspect_timeout=0.3")  # events on: the sampler runs
    site.page("/")  # the first console request starts the listener and the sampler
    manager = site.project.app.extensions["flasker_console"]
    sampler = manager._sampler
    assert sampler is not None
    assert sampler.is_running
    assert sampler.every == backlog.SAMPLE_EVERY
    publish(site, 7)
    sampler.sample()  # what its thread does every SAMPLE_EVERY seconds
    assert max(stored(site).values()) == 7
    assert backlog.latest(site.project) == backlog.latest(site.project, fresh_for=60)
    manager.stop_listener()
    assert not sampler.is_running


def test_no_sampler_without_the_events_listener(quiet: ConsoleSite) -> None:
    quiet.page("/")
    assert quiet.project.app.extensions["flasker_console"]._sampler is None


def test_a_database_that_cannot_store_samples_still_shows_the_count(
    quiet: ConsoleSite, caplog: pytest.LogCaptureFixture
) -> None:
    publish(quiet, 3)
    backlog.ensure_table(quiet.project)
    with quiet.project.db.engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE {backlog.BACKLOG_TABLE}")
        connection.exec_driver_sql(f"CREATE VIEW {backlog.BACKLOG_TABLE} AS SELECT 1 AS minute")
    counted = backlog.measure(quiet.project, {}, 2.0)
    assert [q.messages for q in counted.queues] == [3]
    assert "could not store the queue lengths" in caplog.text


def test_metrics_give_each_queue_length_and_its_consumers(quiet: ConsoleSite) -> None:
    publish(quiet, 5)
    text = quiet.get("/metrics").get_data(as_text=True)
    assert 'flasker_console_queue_length{queue="celery"} 5.0' in text
    assert 'flasker_console_queue_consumers{queue="celery"} 0.0' in text
    assert "flasker_console_queue_lengths_known 1.0" in text
    # a fresh count of the sampler is served as it is: the scrape does not ask the broker
    publish(quiet, 2)
    assert 'queue="celery"} 5.0' in quiet.get("/metrics").get_data(as_text=True)
    forget_process_memory(quiet)  # no fresh count: asked now
    assert 'queue="celery"} 7.0' in quiet.get("/metrics").get_data(as_text=True)


@pytest.mark.redis
def test_redis_backlog_in_the_chart_and_metrics(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, redis_url: str
) -> None:
    site = make_console(
        cfg=sample_cfg + "\n[CELERY]\nbroker_url = {broker}\n", source=QUIET, broker=redis_url
    )
    publish(site, 6)
    assert chart_of(card(site))["now"] == "6"
    table = backlog.ensure_table(site.project)
    with site.project.db.engine.connect() as connection:
        assert connection.scalar(select(func.sum(table.c.messages))) == 6
    assert 'flasker_console_queue_length{queue="celery"} 6.0' in site.get("/metrics").get_data(
        as_text=True
    )


def test_samples_older_than_a_day_are_purged(quiet: ConsoleSite) -> None:
    backlog.record(quiet.project, lengths(celery=3), NOW - timedelta(days=2))
    backlog.record(quiet.project, lengths(celery=4), NOW - timedelta(hours=23))
    assert backlog.purge(quiet.project, now=NOW) == 1
    assert list(stored(quiet).values()) == [4]
