"""The task history (task_history.py): one row per task from its events, whatever order they
arrive in and however many console processes hear them; retention from the cfg.

The facts go through the listener's own write path (`task_events.store(..., then=recorder)`),
on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from flasker.exceptions import ProjectError
from flasker.testing import WorkCounter
from flasker_console import task_events, task_history
from flasker_console.task_events import TaskEvent, store, task_event

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def event(kind: str, uuid: str, seconds: float, **fields: Any) -> TaskEvent:
    """The fact a worker's event gives (through the listener's parser)."""
    fact = task_event(
        {"type": kind, "uuid": uuid, "timestamp": (T0 + timedelta(seconds=seconds)).timestamp()}
        | {"hostname": "w1@host"}
        | fields
    )
    assert fact is not None
    return fact


def run_of(uuid: str, start: float = 0.0, ok: bool = True) -> list[TaskEvent]:
    """A task received, started and finished, as a worker reports it."""
    end = (
        event("task-succeeded", uuid, start + 2, result="{'total': 6}", runtime=1.5)
        if ok
        else event(
            "task-failed",
            uuid,
            start + 2,
            exception="LookupError('no cat')",
            traceback="Traceback (most recent call last):\nLookupError: no cat\n",
        )
    )
    return [
        event(
            "task-received",
            uuid,
            start,
            name="houses.tasks.census",
            args="('Tom', 3)",
            kwargs="{'dry': True}",
            retries=0,
            root_id="root-1",
            parent_id="parent-1",
        ),
        event("task-started", uuid, start + 0.5),
        end,
    ]


def keep(site: ConsoleSite, facts: list[TaskEvent]) -> list[TaskEvent]:
    """Store facts as the listener does: the history follows in the same transaction."""
    return store(site.project, facts, then=task_history.recorder(site.project))


def rows(site: ConsoleSite) -> list[Any]:
    model = task_history.ensure_table(site.project)
    with site.project.db.Session() as session:
        found = list(session.scalars(select(model).order_by(model.first_at)))
        session.expunge_all()
        return found


def clear(site: ConsoleSite) -> ConsoleSite:
    for model in (task_events.ensure_table(site.project), task_history.ensure_table(site.project)):
        with site.project.db.engine.begin() as connection:
            connection.execute(model.__table__.delete())
    return site


@pytest.fixture(scope="module")
def quiet_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    """No listener: the tests store the events themselves."""
    return make_console(arguments="events=False")


@pytest.fixture
def site(quiet_site: ConsoleSite) -> ConsoleSite:
    return clear(quiet_site)


def test_a_task_is_one_row_with_what_its_events_said(site: ConsoleSite) -> None:
    keep(site, run_of("t1"))
    (row,) = rows(site)
    assert (row.task_id, row.name, row.state, row.hostname) == (
        "t1",
        "houses.tasks.census",
        "SUCCESS",
        "w1@host",
    )
    assert (row.args, row.kwargs, row.result) == ("('Tom', 3)", "{'dry': True}", "{'total': 6}")
    assert (row.root_id, row.parent_id, row.retries, row.runtime) == ("root-1", "parent-1", 0, 1.5)
    assert row.took == 1.5
    assert row.call == "houses.tasks.census('Tom', 3, **{'dry': True})"
    received = row.received_at.replace(tzinfo=UTC)
    assert received == T0
    assert row.finished_at.replace(tzinfo=UTC) - received == timedelta(seconds=2)


def test_events_in_any_order_and_batch_give_the_same_row(site: ConsoleSite) -> None:
    received, started, failed = run_of("t2", ok=False)
    keep(site, [failed])  # the end first: the listener heard it before the rest
    assert rows(site)[0].state == "FAILURE"
    keep(site, [started])  # a late STARTED never undoes the end
    keep(site, [received])
    (row,) = rows(site)
    assert row.state == "FAILURE"
    assert row.name == "houses.tasks.census"
    assert row.first_at.replace(tzinfo=UTC) == T0  # the first event heard, whatever arrived first
    assert row.exception == "LookupError('no cat')"
    assert "LookupError: no cat" in row.traceback
    assert row.runtime is None  # a failure's event has no runtime
    assert row.took == 1.5


def test_a_retried_task_moves_on_and_counts_its_retries(site: ConsoleSite) -> None:
    retried = event("task-retried", "t3", 1, exception="ConnectionError('down')", traceback="tb")
    first = [*run_of("t3")[:2], retried]
    keep(site, first)
    assert rows(site)[0].state == "RETRY"
    again = [
        event("task-received", "t3", 10, name="houses.tasks.census", retries=1),
        event("task-started", "t3", 10.5),
        event("task-succeeded", "t3", 11, result="42", runtime=0.5),
    ]
    assert keep(site, again) == again  # the second run's RECEIVED/STARTED are new facts
    (row,) = rows(site)
    assert (row.state, row.retries, row.result, row.runtime) == ("SUCCESS", 1, "42", 0.5)
    assert row.started_at.replace(tzinfo=UTC) == T0 + timedelta(seconds=10.5)  # the last run
    assert row.exception == "ConnectionError('down')"  # the retry's reason stays readable


def history_writes(site: ConsoleSite, facts: list[TaskEvent]) -> int:
    """Statements a process runs to keep `facts` (the facts insert, then the history's)."""
    with WorkCounter(site.project) as counter:
        keep(site, facts)
    return counter.queries


def test_several_listening_processes_write_each_update_once(site: ConsoleSite) -> None:
    """Every console process hears every event: only the first to store a fact goes on to
    write the history; the others run the insert-or-ignore alone."""
    facts = run_of("a") + run_of("b", 5)
    first = history_writes(site, facts)
    second = history_writes(site, facts)  # a second gunicorn worker heard the same events
    assert second == first - 1
    assert second == 1
    assert [r.task_id for r in rows(site)] == ["a", "b"]
    # the upsert is idempotent: a batch applied again (MySQL cannot say what it wrote) changes
    # nothing
    table = task_history.ensure_table(site.project).__table__
    with site.project.db.engine.begin() as connection:
        task_history.record(connection, table, facts)
    assert [(r.task_id, r.state, r.retries) for r in rows(site)] == [
        ("a", "SUCCESS", 0),
        ("b", "SUCCESS", 0),
    ]


def test_old_tasks_are_purged_after_the_retention(site: ConsoleSite) -> None:
    now = datetime.now(UTC)
    old = [
        TaskEvent("old", "SUCCESS", now - timedelta(days=8)),
        TaskEvent("recent", "SUCCESS", now - timedelta(days=6)),
        TaskEvent("new", "SUCCESS", now),
    ]
    keep(site, old)
    assert task_history.purge(site.project, days=7) == 1
    assert sorted(r.task_id for r in rows(site)) == ["new", "recent"]
    assert task_history.purge(site.project, days=1) == 1
    assert [r.task_id for r in rows(site)] == ["new"]


def test_a_fact_is_never_stored_without_its_history(site: ConsoleSite) -> None:
    """The facts and the history share one transaction: when the history write fails, the
    facts are not stored either, and the listener's retry writes both."""

    def broken(connection: Any, facts: list[TaskEvent]) -> None:
        raise RuntimeError("the database went away mid-write")

    with pytest.raises(RuntimeError):
        store(site.project, run_of("t4"), then=broken)
    model = task_events.ensure_table(site.project)
    with site.project.db.Session() as session:
        assert session.scalar(select(func.count()).select_from(model)) == 0
    assert keep(site, run_of("t4")) != []
    assert rows(site)[0].state == "SUCCESS"


@pytest.mark.postgres
def test_the_history_on_postgresql(
    make_console: Callable[..., ConsoleSite], postgres_url: str
) -> None:
    site = clear(make_console(db_url=postgres_url, arguments="events=False"))
    try:
        received, started, ended = run_of("p1")
        keep(site, [ended, started])
        keep(site, [received, started])
        assert history_writes(site, run_of("p1")) == 1  # all heard already: no history write
        (row,) = rows(site)
        assert (row.state, row.name, row.args, row.result) == (
            "SUCCESS",
            "houses.tasks.census",
            "('Tom', 3)",
            "{'total': 6}",
        )
        assert row.first_at == T0
    finally:
        clear(site)
        site.project.db.dispose()


def test_the_retention_comes_from_the_cfg(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    site = make_console(cfg=sample_cfg + "\n[CONSOLE]\nTASK_HISTORY_DAYS = 2.5\nEVENTS = false\n")
    assert site.app.extensions["flasker_console"].task_history_days == 2.5
    with pytest.raises(ProjectError, match="task_history_days must be more than 0 days"):
        make_console(cfg=sample_cfg + "\n[CONSOLE]\nTASK_HISTORY_DAYS = 0\n")
