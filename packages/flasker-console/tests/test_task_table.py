"""The console's own task rows (task_table.py): how a state read from the result backend is
written on a row, and how the events move rows on (a final state from one backend read, never
from the event's text)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from flasker_console.task_table import (
    MAX_TEXT,
    TASKS_TABLE,
    apply_state,
    ensure_table,
    sync_states,
    task_model,
)

ConsoleSite = Any


@pytest.fixture(autouse=True)
def forgotten_after_the_module(make_console: Callable[..., ConsoleSite]) -> None:
    """Every test maps the model inside `make_console`'s restored process state: a model
    mapped before it would outlive this module and break the next module's mapping."""


@pytest.fixture
def quiet(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_console(arguments="events=False")


def add_rows(site: ConsoleSite, **states: str) -> None:
    """A row per task id (keyword) in the given state, as if sent from the console."""
    ensure_table(site.project)
    model = task_model()
    with site.project.db.Session() as session:
        for task_id, state in states.items():
            session.add(model(task_id=task_id, name="site.add", args="[1]", state=state))
        session.commit()


def rows(site: ConsoleSite) -> dict[str, Any]:
    model = task_model()
    with site.project.db.Session(expire_on_commit=False) as session:
        return {row.task_id: row for row in session.scalars(select(model)).all()}


def new_row(**values: Any) -> Any:
    return task_model()(task_id="t", name="site.add", args="[]", kwargs="{}", **values)


# -- one row --------------------------------------------------------------------------------
def test_a_row_shows_its_call() -> None:
    row = new_row()
    row.args, row.kwargs = '[1, "a"]', '{"b": [2]}'
    assert row.call == "site.add(1, 'a', b=[2])"


def test_a_success_stores_the_result_as_json_and_ends_the_row() -> None:
    row = new_row(state="PENDING")
    apply_state(row, "SUCCESS", {"total": 42}, None)
    assert (row.state, row.result, row.error_type) == ("SUCCESS", '{"total": 42}', None)
    assert row.is_final
    assert row.done_at is not None


def test_a_failure_stores_the_exception_and_its_traceback() -> None:
    row = new_row(state="STARTED")
    apply_state(row, "FAILURE", LookupError("boom on purpose"), "Traceback (most recent...)")
    assert (row.state, row.error_type, row.error_message) == (
        "FAILURE",
        "LookupError",
        "boom on purpose",
    )
    assert row.traceback == "Traceback (most recent...)"
    assert row.done_at is not None


def test_an_exception_the_backend_could_not_rebuild_keeps_its_names() -> None:
    row = new_row(state="STARTED")
    apply_state(row, "FAILURE", {"exc_type": "ShopError", "exc_message": "closed"}, None)
    assert (row.error_type, row.error_message) == ("ShopError", "closed")
    other = new_row(state="STARTED")
    apply_state(other, "RETRY", "the worker said no", None)
    assert (other.state, other.error_type, other.error_message) == (
        "RETRY",
        "Error",
        "the worker said no",
    )
    assert not other.is_final
    assert other.done_at is None


def test_long_texts_are_clipped() -> None:
    row = new_row(state="STARTED")
    apply_state(row, "FAILURE", ValueError("x" * 10_000), "t" * 10_000)
    assert row.error_message == "x" * (MAX_TEXT - 1) + "…"
    assert row.traceback == "t" * (MAX_TEXT - 1) + "…"
    success = new_row(state="STARTED")
    apply_state(success, "SUCCESS", "y" * 10_000, None)
    assert len(success.result) == MAX_TEXT


# -- rows moved on by the events ----------------------------------------------------------
def test_started_and_retry_events_move_rows_without_the_backend(quiet: ConsoleSite) -> None:
    add_rows(quiet, a="PENDING", b="RETRY", c="STARTED", d="PENDING")
    sync_states(quiet.project, {"a": "STARTED", "b": "STARTED", "c": "RETRY"}, 2.0)
    assert {task_id: row.state for task_id, row in rows(quiet).items()} == {
        "a": "STARTED",
        "b": "STARTED",
        "c": "RETRY",
        "d": "PENDING",
    }


def test_a_final_event_stores_what_the_backend_has(quiet: ConsoleSite) -> None:
    add_rows(quiet, done="STARTED", unknown="STARTED")
    quiet.project.celery.backend.store_result("done", 42, "SUCCESS")
    # `unknown`: the event says SUCCESS, the backend has nothing yet: the row waits
    sync_states(quiet.project, {"done": "SUCCESS", "unknown": "SUCCESS"}, 2.0)
    found = rows(quiet)
    assert (found["done"].state, found["done"].result) == ("SUCCESS", "42")
    assert found["done"].done_at is not None
    assert (found["unknown"].state, found["unknown"].result) == ("STARTED", None)


def test_a_finished_row_is_never_moved_back(quiet: ConsoleSite) -> None:
    add_rows(quiet, ended="SUCCESS")
    sync_states(quiet.project, {"ended": "RETRY"}, 2.0)
    assert rows(quiet)["ended"].state == "SUCCESS"


def test_without_the_table_nothing_is_created(quiet: ConsoleSite) -> None:
    """A project whose console never sent a task (here: its table dropped) gets no table."""
    task_model().__table__.drop(quiet.project.db.engine, checkfirst=True)
    sync_states(quiet.project, {"a": "STARTED"}, 2.0)
    sync_states(quiet.project, {}, 2.0)
    assert not sa.inspect(quiet.project.db.engine).has_table(TASKS_TABLE)
