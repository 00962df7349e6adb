"""The console's task rows: the `flasker_console_tasks` table and the states stored in it.

Each task sent (or retried) from the console is a row in the project's database (core's
`Model`, `__api__ = False`), so the list survives a console restart. Its state comes from
Celery's result backend while it is not final (PENDING, STARTED, RETRY) and is stored once it
is (SUCCESS, FAILURE, REVOKED), so a finished row costs no backend call. The task list
(tasks.py) and the events listener (events.py) both move rows on through this module.

The model is mapped on first use (`task_model()`) and its table created then if missing, not
when the console is registered: a project whose database is down still starts (and its
overview says so), and importing the package adds no table.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from ._lazy_table import LazyTable

if TYPE_CHECKING:
    from flasker.project import Project

TASKS_TABLE = "flasker_console_tasks"
#: States after which a task's row no longer asks the result backend.
FINAL_STATES = frozenset({"SUCCESS", "FAILURE", "REVOKED"})
#: Longest stored text of a result, message or traceback.
MAX_TEXT = 4000


def utcnow() -> datetime:
    return datetime.now(UTC)


def _clip(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT:
        return text
    return text[: MAX_TEXT - 1] + "…"


class TaskRecord:
    """One task sent from the console: what was sent, by whom, and how it ended."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    args: Mapped[str] = mapped_column(Text, nullable=False, default="[]")  # JSON
    kwargs: Mapped[str] = mapped_column(Text, nullable=False, default="{}")  # JSON
    queue: Mapped[str | None] = mapped_column(String(255))
    countdown: Mapped[float | None] = mapped_column()
    sent_by: Mapped[str | None] = mapped_column(String(320))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retry_of: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), nullable=False, default="PENDING")
    revoke_requested: Mapped[bool] = mapped_column(default=False)
    result: Mapped[str | None] = mapped_column(Text)  # JSON text of the return value
    error_type: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def call(self) -> str:
        """`name(1, 'a', b=2)`, for the list."""
        parts = [repr(a) for a in json.loads(self.args)]
        parts += [f"{k}={v!r}" for k, v in json.loads(self.kwargs).items()]
        return f"{self.name}({', '.join(parts)})"


_TABLE = LazyTable(TASKS_TABLE, TaskRecord, "ConsoleTask", __name__, "the tasks it sent")


def task_model() -> Any:
    """The `ConsoleTask` model, mapped on core's `Model` on first use."""
    return _TABLE.model()


def find_row(project: Project, task_id: str) -> Any | None:
    """The console's row of a task it sent (detached), or None; creates no table."""
    return _TABLE.find(project, task_id)


def ensure_table(project: Project) -> None:
    """Create the table when missing (once per engine and mapping)."""
    _TABLE.ensure(project)


def backend_state(project: Project, row: Any) -> tuple[str, Any, str | None]:
    """The task's (state, result or exception, traceback) as the result backend has it."""
    result = project.celery.AsyncResult(row.task_id)
    meta = result.backend.get_task_meta(row.task_id)
    return meta.get("status", "PENDING"), meta.get("result"), meta.get("traceback")


def apply_state(row: Any, state: str, value: Any, traceback: str | None) -> None:
    """Write a state read by `backend_state` on the row (results and errors clipped)."""
    row.state = state
    if state == "SUCCESS":
        row.result = _clip(json.dumps(value, default=repr))
    elif state in ("FAILURE", "RETRY") or (state == "REVOKED" and value is not None):
        if isinstance(value, BaseException):
            row.error_type = type(value).__name__
            row.error_message = _clip(str(value))
        elif isinstance(value, dict):  # an exception the backend could not rebuild
            row.error_type = str(value.get("exc_type") or "Error")
            row.error_message = _clip(str(value.get("exc_message") or ""))
        elif value is not None:
            row.error_type, row.error_message = "Error", _clip(str(value))
        row.traceback = _clip(traceback)
    if state in FINAL_STATES:
        row.done_at = utcnow()


def sync_states(project: Project, latest: dict[str, str], timeout: float) -> None:
    """Move the console's own task rows on from the latest event state of each task id:
    STARTED and RETRY as they are, final states from one result-backend read each (the same
    read the task list would make), so a stored result is the backend's, never an event's."""
    from sqlalchemy import inspect

    from flasker.health import within

    if not latest:
        return
    if not inspect(project.db.engine).has_table(TASKS_TABLE):
        return  # the console never sent a task here: nothing to update
    model = task_model()
    with project.db.Session(expire_on_commit=False) as session:
        rows = session.scalars(
            select(model).where(model.task_id.in_(list(latest)), model.state.not_in(FINAL_STATES))
        ).all()
        for row in rows:
            state = latest[row.task_id]
            if state in FINAL_STATES:
                found = within(timeout, functools.partial(backend_state, project, row))
                if found[0] in FINAL_STATES:
                    apply_state(row, *found)
            elif state == "STARTED" and row.state in ("PENDING", "RETRY"):
                row.state = "STARTED"
            elif state == "RETRY":
                row.state = "RETRY"
        session.commit()
