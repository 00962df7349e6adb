"""The overview's "Tasks, last hour" chart (event_chart.py): sixty one-minute buckets ending
with the current minute, succeeded and failed counted from the stored facts, drawn as stacked
bars scaled to the busiest minute."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flasker_console.event_chart import CHART_MINUTES, Chart, Minute, last_hour
from flasker_console.task_events import TaskEvent, store

ConsoleSite = Any
NOW = datetime(2030, 1, 2, 3, 4, 30, tzinfo=UTC)


@pytest.fixture
def quiet(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(arguments="events=False")


def test_an_empty_hour_has_sixty_empty_minutes_ending_now(quiet: ConsoleSite) -> None:
    chart = last_hour(quiet.project, now=NOW)
    assert CHART_MINUTES == 60
    assert len(chart.minutes) == 60
    assert chart.minutes[-1].start == datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    assert chart.minutes[0].start == datetime(2030, 1, 2, 2, 5, tzinfo=UTC)
    assert (chart.succeeded, chart.failed, chart.peak) == (0, 0, 0)
    assert chart.summary == "0 succeeded, 0 failed in the last hour"
    assert chart.bars == []


def test_only_ends_inside_the_hour_are_counted(quiet: ConsoleSite) -> None:
    store(
        quiet.project,
        [
            TaskEvent("a", "SUCCESS", NOW),
            TaskEvent("b", "SUCCESS", NOW - timedelta(seconds=20)),
            TaskEvent("c", "FAILURE", NOW - timedelta(minutes=59)),  # the first minute shown
            TaskEvent("d", "SUCCESS", NOW - timedelta(minutes=60)),  # one minute too old
            TaskEvent("e", "SUCCESS", NOW + timedelta(minutes=1)),  # a worker's clock ahead
            TaskEvent("a", "RECEIVED", NOW),  # not an end
            TaskEvent("f", "RETRY", NOW),
            TaskEvent("g", "REVOKED", NOW),
        ],
    )
    chart = last_hour(quiet.project, now=NOW)
    assert (chart.minutes[-1].succeeded, chart.minutes[-1].failed) == (2, 0)
    assert (chart.minutes[0].succeeded, chart.minutes[0].failed) == (0, 1)
    assert (chart.succeeded, chart.failed, chart.peak) == (2, 1, 2)
    assert chart.summary == "2 succeeded, 1 failed in the last hour"


def test_bars_are_drawn_for_busy_minutes_only_scaled_to_the_busiest() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    minutes = [Minute(start + timedelta(minutes=n)) for n in range(4)]
    minutes[1].succeeded = 4
    minutes[3].succeeded, minutes[3].failed = 1, 1
    chart = Chart(minutes, width=400, height=80)
    assert chart.peak == 4
    first, second = chart.bars
    assert first.minute is minutes[1]
    assert (first.x, first.width) == (110.0, 80.0)
    assert (first.succeeded_y, first.succeeded_height) == (0.0, 80.0)
    assert (first.failed_y, first.failed_height) == (0.0, 0.0)
    assert second.minute is minutes[3]
    assert (second.x, second.width) == (310.0, 80.0)
    assert (second.succeeded_y, second.succeeded_height) == (60.0, 20.0)
    assert (second.failed_y, second.failed_height) == (40.0, 20.0)


def test_a_minute_totals_its_ends() -> None:
    minute = Minute(NOW, succeeded=3, failed=2)
    assert minute.total == 5
    assert Chart([]).bars == []
    assert Chart([]).peak == 0


def test_the_overview_card_draws_the_stored_hour(quiet: ConsoleSite) -> None:
    now = datetime.now(UTC)
    store(quiet.project, [TaskEvent("x", "SUCCESS", now), TaskEvent("y", "FAILURE", now)])
    body = quiet.get("/overview/tasks", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-testid="task-chart" data-succeeded="1" data-failed="1"' in body
    assert (
        '<desc id="task-chart-desc">1 succeeded, 1 failed in the last hour; '
        "at most 2 in one minute</desc>" in body
    )
    assert body.count('data-testid="chart-bar"') == 1
