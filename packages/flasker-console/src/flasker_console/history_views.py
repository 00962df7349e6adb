"""The every-task list and each task's page (registered by `views.make_blueprint`).

`/tasks/history`: every task heard on the event stream (task_history.py), newest first, with
the filters and cursor of task_search.py; its first page polls every 3 s (one query each) for
new tasks. `/tasks/<task_id>`: what the events said about one task (args, kwargs, result or
exception with traceback, times, runtime, retries, worker, parent, root and children), the
console's own record when it sent it, and retry/revoke for admins (the tasks page's routes).
A bad filter is a 400 naming it; an unknown task a 404.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from . import task_history
from . import tasks as store
from ._site import EXTENSION
from .task_search import STATES, parse_filters, search


def _project() -> Any:
    return current_app.extensions[EXTENSION].project


def history_page() -> Any:
    """The list; an htmx request (the poll, the filter form) gets its table only."""
    filters = parse_filters(request.args)
    page = search(_project(), filters, request.args.get("cursor"))
    template = (
        "flasker_console/partials/history_table.html"
        if request.headers.get("HX-Request")
        else "flasker_console/history.html"
    )
    return render_template(template, page=page, states=STATES)


def task_page(task_id: str) -> Any:
    """One task: its history row and, when the console sent it, the console's row."""
    project = _project()
    task_id = task_id.strip()[:64]
    heard = task_history.get(project, task_id)
    sent = store.find(project, task_id)
    if heard is None and sent is None:
        raise store.TaskNotFound(
            f"no task {task_id} was sent from this console or heard from a worker (the history "
            "keeps a task for [CONSOLE] TASK_HISTORY_DAYS after its last event)"
        )
    children = task_history.children(project, task_id) if heard is not None else []
    template = (
        "flasker_console/partials/task_detail.html"
        if request.headers.get("HX-Request")
        else "flasker_console/task.html"
    )
    return render_template(template, task_id=task_id, heard=heard, sent=sent, children=children)
