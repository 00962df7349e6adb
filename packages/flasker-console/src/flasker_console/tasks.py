"""Tasks sent from the console: sending, retrying, revoking, and the stored list.

Each task sent (or retried) from the console is a row of `flasker_console_tasks`
(task_table.py: the model and how a row's state is read from the result backend), so the list
survives a console restart. The form that sends one: task_form.py.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from . import activity, task_history, task_table
from .exceptions import ConsoleError
from .task_form import (
    TaskForm,
    TaskInputError,
    arguments_from_form,
    options_from_form,
    parse_value,
)
from .task_table import (
    FINAL_STATES,
    TASKS_TABLE,
    TaskRecord,
    apply_state,
    backend_state,
    ensure_table,
    task_model,
    utcnow,
)

if TYPE_CHECKING:
    from flasker.project import Project

#: Rows the page lists.
RECENT = 25


class TaskStateError(ConsoleError):
    """The task is not in a state that allows the action (retry a success, revoke a finished
    one), or it was not sent from this console."""

    status = 409


class TaskNotFound(ConsoleError):
    """No task with this id was sent from the console or heard from a worker (or it was
    purged from the history)."""

    status = 404


class BrokerUnavailable(ConsoleError):
    """The broker did not take a message (the message says which and why)."""

    status = 503


# -- sending --------------------------------------------------------------------------------
#: Publishing gives up quickly when the broker does not answer (the page must not hang).
PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def send(
    project: Project,
    name: str,
    args: list[Any],
    kwargs: dict[str, Any],
    *,
    countdown: float | None = None,
    queue: str | None = None,
    sent_by: str | None = None,
    retry_of: str | None = None,
    timeout: float = 2.0,
    record: bool = False,
) -> Any:
    """Publish the task and store its row; return the row.

    `record`: also add `task.sent` (or `task.retried`) to the activity log, in the same
    transaction as the row (activity.py).

    The broker is checked first (a broker that is down answers 503 within `timeout`), and
    publishing itself gets `timeout` + 2 s: a result backend that does not answer (Redis
    subscribes to the result while sending) must not hang the page.
    """
    from uuid import uuid4

    from flasker.health import CheckTimeout, check_broker, within

    celery = project.celery
    # a project served by `flasker console --root` is never started (its modules are not
    # imported here): its tasks were listed by a subprocess, and are sent by name
    task = celery.tasks.get(name) if project.is_started else None
    if task is None and project.is_started:
        raise TaskInputError(f"no task named {name!r} is registered in this project")
    broker = check_broker(project, timeout)
    if not broker.ok:
        raise BrokerUnavailable(f"could not send {name}: the broker is down ({broker.detail})")
    task_id = str(uuid4())
    options: dict[str, Any] = {"task_id": task_id, "retry": True, "retry_policy": PUBLISH_RETRY}
    if countdown:
        options["countdown"] = countdown
    if queue:
        options["queue"] = queue
    ensure_table(project)
    late = None
    try:
        within(
            timeout + 2.0,
            lambda: (
                task.apply_async(args=args, kwargs=kwargs, **options)
                if task is not None
                else celery.send_task(name, args=args, kwargs=kwargs, **options)
            ),
        )
    except CheckTimeout:
        late = BrokerUnavailable(
            f"sending {name} was not confirmed within {timeout + 2:g} s: it is listed as task "
            f"{task_id} and may still run"
        )
    except Exception as error:
        raise BrokerUnavailable(
            f"could not send {name}: the broker did not take it ({type(error).__name__}: {error})"
        ) from None
    model = task_model()
    row = model(
        task_id=task_id,
        name=name,
        args=json.dumps(args),
        kwargs=json.dumps(kwargs),
        queue=queue,
        countdown=countdown,
        sent_by=sent_by,
        retry_of=retry_of,
        state="PENDING",
        sent_at=utcnow(),
    )
    logged = None
    if record:
        logged = activity.entry(
            project,
            sent_by,
            "task.retried" if retry_of else "task.sent",
            f"{name} {task_id}",
            activity.as_json(
                {
                    "args": args,
                    "kwargs": kwargs,
                    "queue": queue,
                    "countdown": countdown,
                    **({"retry_of": retry_of} if retry_of else {}),
                }
            ),
        )
    with project.db.Session(expire_on_commit=False) as session:
        activity.commit(session, logged, lambda s: s.add(row))
        session.expunge(row)
    if late is not None:
        raise late
    return row


def find(project: Project, task_id: str) -> Any:
    """The console's row of a task it sent (detached), or None (creating no table)."""
    return task_table.find_row(project, task_id)


def get(project: Project, task_id: str) -> Any:
    row = find(project, task_id)
    if row is None:
        raise TaskNotFound(f"no task {task_id} was sent from this console")
    return row


def _heard(project: Project, task_id: str) -> Any:
    """The history's row of a task the console did not send; TaskNotFound when unknown."""
    row = task_history.get(project, task_id)
    if row is None:
        raise TaskNotFound(
            f"no task {task_id} was sent from this console or heard from a worker (the "
            "history keeps a task for [CONSOLE] TASK_HISTORY_DAYS after its last event)"
        )
    return row


#: Repr text this long may have been shortened by Celery (`argsrepr_maxsize`, 1024).
SHORTENED_AT = 1000


def _literal(text: str | None, kind: type, what: str, task_id: str) -> Any:
    """The value a worker's repr text stands for, when it is a plain literal (not shortened
    by the worker with `...`, not an object's repr)."""
    value = None
    # Celery shortens a long repr with "..." (inside a string it still parses: 'vvv...'),
    # at about `argsrepr_maxsize` (1024) characters: such text is refused, never sent shortened
    if text is None or ("..." not in text and len(text) < SHORTENED_AT):
        try:
            value = ast.literal_eval(text or ("()" if kind is list else "{}"))
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = None
    if kind is list and isinstance(value, tuple | list):
        return list(value)
    if kind is dict and isinstance(value, dict):
        return value
    raise TaskStateError(
        f"task {task_id} cannot be sent again: its {what} as the worker reported them "
        f"({(text or '')[:80]}) are shortened or not plain values; send it from its form"
    )


def retry(
    project: Project,
    task_id: str,
    sent_by: str | None,
    timeout: float = 2.0,
    record: bool = False,
) -> Any:
    """Send a failed (or revoked) task again with its original arguments (and, when the
    console sent it, its queue). A task sent elsewhere is sent again with the arguments its
    events carried, when they are plain values."""
    row = find(project, task_id)
    if row is None:
        heard = _heard(project, task_id)
        if heard.state not in ("FAILURE", "REVOKED") or not heard.name:
            raise TaskStateError(f"task {task_id} is {heard.state}: only failed tasks are retried")
        return send(
            project,
            heard.name,
            _literal(heard.args, list, "args", task_id),
            _literal(heard.kwargs, dict, "kwargs", task_id),
            sent_by=sent_by,
            retry_of=task_id,
            timeout=timeout,
            record=record,
        )
    if row.state not in ("FAILURE", "REVOKED"):
        raise TaskStateError(f"task {task_id} is {row.state}: only failed tasks are retried")
    return send(
        project,
        row.name,
        json.loads(row.args),
        json.loads(row.kwargs),
        queue=row.queue,
        sent_by=sent_by,
        retry_of=row.task_id,
        timeout=timeout,
        record=record,
    )


def revoke(
    project: Project, task_id: str, revoked_by: str | None = None, record: bool = False
) -> Any:
    """Ask the workers to drop a task that has not started (a broadcast; no reply awaited);
    `record`: also add `task.revoked` to the activity log, in the same transaction.

    A task the console did not send is revoked from its history row (RECEIVED or RETRY)."""
    row = find(project, task_id)
    heard = _heard(project, task_id) if row is None else None
    current: Any = row if row is not None else heard
    if current.is_final or current.state == "STARTED":
        raise TaskStateError(f"task {task_id} is {current.state}: only pending tasks are revoked")
    try:
        project.celery.control.revoke(task_id)
    except Exception as error:
        raise BrokerUnavailable(
            f"could not revoke {task_id}: the broker did not take the request "
            f"({type(error).__name__}: {error})"
        ) from None
    if heard is not None:
        if record:
            activity.record(
                project,
                revoked_by,
                "task.revoked",
                f"{heard.name} {task_id}",
                activity.as_json({"args": heard.args, "kwargs": heard.kwargs}),
            )
        return heard
    model = task_model()
    logged = None
    if record:
        logged = activity.entry(
            project,
            revoked_by,
            "task.revoked",
            f"{row.name} {task_id}",
            activity.as_json({"args": json.loads(row.args), "kwargs": json.loads(row.kwargs)}),
        )

    def mark(session: Any) -> Any:
        stored = session.scalar(select(model).where(model.task_id == task_id))
        stored.revoke_requested = True
        return stored

    with project.db.Session(expire_on_commit=False) as session:
        stored = activity.commit(session, logged, mark)
        session.expunge(stored)
    return stored


# -- the list -------------------------------------------------------------------------------
@dataclass
class TaskList:
    rows: list[Any]
    backend_problem: str | None = None

    @property
    def is_live(self) -> bool:
        """Some row may still change: the page keeps polling."""
        return any(not row.is_final for row in self.rows)


def recent(project: Project, timeout: float, limit: int = RECENT) -> TaskList:
    """The newest rows, with the state of the unfinished ones read from the result backend.

    One backend read per unfinished row, all within `timeout` together: a backend that does
    not answer is reported, never waited on.
    """
    from flasker.health import within

    model = task_model()
    ensure_table(project)
    with project.db.Session(expire_on_commit=False) as session:
        rows = list(session.scalars(select(model).order_by(model.id.desc()).limit(limit)))
        pending = [row for row in rows if not row.is_final]
        problem = None
        if pending:
            try:
                states = within(timeout, lambda: [backend_state(project, r) for r in pending])
            except Exception as error:
                problem = f"the result backend did not answer: {type(error).__name__}: {error}"
            else:
                for row, found in zip(pending, states, strict=True):
                    apply_state(row, *found)
                session.commit()
        for row in rows:
            session.expunge(row)
    return TaskList(rows, problem)


__all__ = [
    "FINAL_STATES",
    "RECENT",
    "TASKS_TABLE",
    "BrokerUnavailable",
    "TaskForm",
    "TaskInputError",
    "TaskList",
    "TaskNotFound",
    "TaskRecord",
    "TaskStateError",
    "arguments_from_form",
    "ensure_table",
    "find",
    "get",
    "options_from_form",
    "parse_value",
    "recent",
    "retry",
    "revoke",
    "send",
    "task_model",
]
