"""What a request costs: the SQL statements and broker calls a project makes inside a block
(see `flasker.testing`, which re-exports it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .project import Project


class WorkCounter:
    """The work a project does inside the block: SQL statements on its engine (SQLAlchemy's
    `before_cursor_execute`) and broker calls of its Celery app (`control.broadcast`, which
    every `inspect` and remote-control command goes through, and `connection_for_write`,
    which broker checks and publishing open). Counted from every thread, since pages run
    their checks and broadcasts in threads::

        client.get("/page")  # warm-up: lazy tables, compiled templates
        with WorkCounter(project) as work:
            client.get("/page")
        assert work.queries <= 3, work.statements

    For asserting that a page's cost stays flat as the data grows, and for benchmarks.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.statements: list[str] = []
        self.broadcasts = 0
        self.connections = 0
        self._lock = threading.Lock()

    @property
    def queries(self) -> int:
        return len(self.statements)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        with self._lock:
            self.statements.append(statement)

    def _counted(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                setattr(self, name, getattr(self, name) + 1)
            return function(*args, **kwargs)

        return call

    def __enter__(self) -> WorkCounter:
        from sqlalchemy import event

        celery = self.project.celery
        event.listen(self.project.db.engine, "before_cursor_execute", self._on_statement)
        # instance attributes shadow the methods until __exit__ deletes them
        celery.control.broadcast = self._counted("broadcasts", celery.control.broadcast)
        celery.connection_for_write = self._counted("connections", celery.connection_for_write)
        return self

    def __exit__(self, *exc_info: object) -> None:
        from sqlalchemy import event

        celery = self.project.celery
        event.remove(self.project.db.engine, "before_cursor_execute", self._on_statement)
        del celery.control.broadcast
        del celery.connection_for_write
