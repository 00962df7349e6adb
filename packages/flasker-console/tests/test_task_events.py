"""Celery's task events as facts (task_events.py): which events are facts, one row per
(task id, state) however many listeners heard it, and old rows deleted."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from flasker_console import task_events
from flasker_console.event_chart import last_hour
from flasker_console.task_events import TaskEvent, event_model, minute_of, purge, store, task_event

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
AT = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def facts(count: int, state: str, at: datetime) -> list[TaskEvent]:
    return [TaskEvent(f"{state}-{at.minute}-{n}", state, at) for n in range(count)]


def stored(site: ConsoleSite) -> list[tuple[str, str, str | None, str | None, int]]:
    model = event_model()
    with site.project.db.Session() as session:
        rows = session.scalars(select(model).order_by(model.task_id, model.state, model.id)).all()
        return [(r.task_id, r.state, r.name, r.hostname, r.minute) for r in rows]


@pytest.fixture
def quiet(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    """A console without its listener: the test writes the facts itself."""
    return make_console(arguments="events=False")


# -- which events are facts -----------------------------------------------------------------
def test_task_events_become_facts_and_other_events_do_not() -> None:
    fact = task_event(
        {"type": "task-received", "uuid": "u1", "timestamp": AT.timestamp(), "name": "t.add"}
    )
    assert fact == TaskEvent("u1", "RECEIVED", AT, "t.add", None)
    assert task_event({"type": "task-failed", "uuid": "u1", "timestamp": 1}) == TaskEvent(
        "u1", "FAILURE", datetime.fromtimestamp(1, UTC)
    )
    assert task_event({"type": "worker-heartbeat", "hostname": "w"}) is None
    assert task_event({"type": "task-sent", "uuid": "u2"}) is None
    assert task_event({"type": "task-succeeded"}) is None  # no uuid: nothing to store
    assert task_event({"type": "task-succeeded", "uuid": ""}) is None
    assert task_event({"type": "task-succeeded", "uuid": 7}) is None


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        ("task-received", "RECEIVED"),
        ("task-started", "STARTED"),
        ("task-succeeded", "SUCCESS"),
        ("task-failed", "FAILURE"),
        ("task-retried", "RETRY"),
        ("task-revoked", "REVOKED"),
    ],
)
def test_each_task_event_stores_its_state(kind: str, state: str) -> None:
    event = {"type": kind, "uuid": "u", "timestamp": AT.timestamp(), "hostname": "w@h"}
    assert task_event(event) == TaskEvent("u", state, AT, None, "w@h")


def test_long_fields_are_clipped_to_their_columns() -> None:
    event = {
        "type": "task-received",
        "uuid": "u" * 100,
        "timestamp": AT.timestamp(),
        "name": "n" * 300,
        "hostname": "h" * 300,
    }
    assert task_event(event) == TaskEvent("u" * 64, "RECEIVED", AT, "n" * 255, "h" * 255)


@pytest.mark.parametrize("timestamp", [None, "soon", 1e300])
def test_an_unreadable_timestamp_is_taken_as_now(timestamp: object) -> None:
    before = datetime.now(UTC)
    event = {"type": "task-succeeded", "uuid": "u"}
    if timestamp is not None:
        event["timestamp"] = timestamp  # type: ignore[assignment]
    fact = task_event(event)
    assert fact is not None
    assert before <= fact.at <= datetime.now(UTC)


def test_a_minute_is_counted_from_the_epoch() -> None:
    assert minute_of(AT) == int(AT.timestamp()) // 60
    assert minute_of(AT.timestamp()) == minute_of(AT)
    assert minute_of(59.9) == 0
    assert minute_of(60.0) == 1


# -- storing ----------------------------------------------------------------------------------
def test_facts_are_stored_with_their_name_host_and_minute(quiet: ConsoleSite) -> None:
    store(quiet.project, [TaskEvent("t1", "RECEIVED", AT, "site.add", "w@h")])
    assert stored(quiet) == [("t1", "RECEIVED", "site.add", "w@h", minute_of(AT))]
    store(quiet.project, [])  # nothing to write: no statement, no error
    assert len(stored(quiet)) == 1


def test_facts_heard_by_several_listeners_are_counted_once(quiet: ConsoleSite) -> None:
    now = datetime.now(UTC)
    batch = facts(3, "SUCCESS", now) + facts(1, "FAILURE", now - timedelta(minutes=5))
    assert store(quiet.project, batch) == batch  # the first process writes them all
    assert store(quiet.project, batch) == []  # a second process heard the same events
    assert store(quiet.project, batch[:2] + batch[:2]) == []  # and duplicates within one batch
    chart = last_hour(quiet.project)
    assert (chart.succeeded, chart.failed) == (3, 1)
    assert chart.minutes[-1].succeeded == 3
    assert chart.minutes[-6].failed == 1
    assert len(stored(quiet)) == 4


def test_a_state_reached_again_later_is_a_fact_of_its_own(quiet: ConsoleSite) -> None:
    """A retried task is received and started again: each time is stored (and returned)."""
    first = TaskEvent("t1", "STARTED", AT, None, "first@h")
    again = TaskEvent("t1", "STARTED", AT + timedelta(seconds=30), None, "again@h")
    assert store(quiet.project, [first]) == [first]
    assert store(quiet.project, [first, again]) == [again]
    assert stored(quiet) == [
        ("t1", "STARTED", None, "first@h", minute_of(AT)),
        ("t1", "STARTED", None, "again@h", minute_of(AT)),
    ]


@pytest.mark.postgres
def test_insert_or_ignore_on_postgresql(
    make_console: Callable[..., ConsoleSite], postgres_url: str
) -> None:
    site = make_console(db_url=postgres_url, arguments="events=False")
    now = datetime.now(UTC)
    batch = facts(2, "SUCCESS", now) + facts(2, "FAILURE", now)
    assert store(site.project, batch) == batch
    assert store(site.project, batch) == []
    chart = last_hour(site.project)
    assert (chart.succeeded, chart.failed) == (2, 2)
    site.project.db.dispose()


# -- purging ----------------------------------------------------------------------------------
def test_old_rows_are_deleted_and_the_hour_is_a_window(quiet: ConsoleSite) -> None:
    now = datetime.now(UTC)
    store(quiet.project, facts(2, "SUCCESS", now - timedelta(hours=25)))
    store(quiet.project, facts(4, "SUCCESS", now - timedelta(minutes=90)))
    store(quiet.project, facts(1, "SUCCESS", now - timedelta(minutes=2)))
    assert last_hour(quiet.project).succeeded == 1  # 90 minutes ago is outside the hour
    assert purge(quiet.project) == 2
    assert purge(quiet.project) == 0
    assert len(stored(quiet)) == 5


def test_purge_keeps_what_is_younger_than_keep(quiet: ConsoleSite) -> None:
    store(quiet.project, facts(3, "SUCCESS", AT - timedelta(minutes=30)))
    store(quiet.project, facts(2, "FAILURE", AT - timedelta(minutes=10)))
    assert purge(quiet.project, keep=timedelta(minutes=20), now=AT) == 3
    assert [row[1] for row in stored(quiet)] == ["FAILURE", "FAILURE"]
    assert timedelta(hours=24) == task_events.KEEP


# -- when the listener writes -----------------------------------------------------------------
class Clock:
    """`time` for events.py: monotonic() returns what the test sets."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.now


def heard(listener: Any, kind: str, task_id: str) -> None:
    listener._on_event({"type": kind, "uuid": task_id, "timestamp": AT.timestamp()})
    listener._on_iteration()  # the receiver calls it after every message


def test_a_task_s_end_is_written_at_once_the_rest_in_batches(
    quiet: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events wait up to FLUSH_EVERY (1 s) to be written together; a task's final event goes
    out within FLUSH_FINAL_EVERY (0.1 s), so its end shows on the pages at once."""
    from flasker_console import events

    clock = Clock()
    monkeypatch.setattr(events, "time", clock)
    listener = events.EventListener(quiet.project)
    heard(listener, "task-received", "t1")  # the first batch goes out at once
    assert [row[:2] for row in stored(quiet)] == [("t1", "RECEIVED")]

    clock.now += 0.5
    heard(listener, "task-started", "t1")
    assert len(stored(quiet)) == 1  # waits for the batch (1 s)
    clock.now += 0.05
    heard(listener, "task-succeeded", "t1")  # its end: written now, with what waited
    assert [row[:2] for row in stored(quiet)] == [
        ("t1", "RECEIVED"),
        ("t1", "STARTED"),
        ("t1", "SUCCESS"),
    ]
    # a burst of endings: one write per FLUSH_FINAL_EVERY, not one per event
    heard(listener, "task-failed", "t3")
    heard(listener, "task-revoked", "t4")
    assert len(stored(quiet)) == 3
    clock.now += events.FLUSH_FINAL_EVERY
    listener._on_iteration()  # the receiver's next wake-up
    assert len(stored(quiet)) == 5

    # a task that only starts waits for the whole batch interval
    clock.now += 0.5
    heard(listener, "task-started", "t2")
    clock.now += 0.4
    listener._on_iteration()
    assert len(stored(quiet)) == 5
    clock.now += 0.2
    listener._on_iteration()
    assert len(stored(quiet)) == 6
