"""A console table created on first use (_lazy_table.py's `create_table`, which `LazyTable` and
the backlog's Core table use) by two processes at once.

Each gunicorn process's events listener flushes its first batch at about the same moment, and
both may find the table missing; the loser's CREATE TABLE fails. Here the "other process" is a
second connection that creates the table between this process's check and its CREATE TABLE
(SQLAlchemy's `before_create` event fires right there), on SQLite and PostgreSQL for real.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, event, inspect

from flasker_console import backlog
from flasker_console.queues import QueueLength, QueueLengths

ConsoleSite = Any
QUIET = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(ConsoleManager(events=False))
"""


def check_the_loser_takes_the_winners_table(site: ConsoleSite) -> None:
    project = site.project
    table = backlog.ensure_table(project)
    engine = project.db.engine
    table.drop(engine)
    backlog._created.pop(engine, None)
    other = create_engine(engine.url)  # another process's connection

    raced: list[bool] = []

    def the_other_process_wins(*_: Any, **__: Any) -> None:
        if not raced:  # the other process's own create fires this event too
            raced.append(True)
            table.create(other)

    event.listen(table, "before_create", the_other_process_wins)
    try:
        assert backlog.ensure_table(project) is table  # no error: the table is there
    finally:
        event.remove(table, "before_create", the_other_process_wins)
        other.dispose()
    assert raced == [True]
    assert inspect(engine).has_table(backlog.BACKLOG_TABLE)
    assert backlog.record(project, QueueLengths([QueueLength("celery", 2)])) == 1  # usable


def test_on_sqlite(make_console: Callable[..., ConsoleSite]) -> None:
    check_the_loser_takes_the_winners_table(make_console(source=QUIET))


@pytest.mark.postgres
def test_on_postgresql(make_console: Callable[..., ConsoleSite], postgres_url: str) -> None:
    site = make_console(source=QUIET, db_url=postgres_url)
    try:
        check_the_loser_takes_the_winners_table(site)
    finally:
        site.project.db.dispose()
