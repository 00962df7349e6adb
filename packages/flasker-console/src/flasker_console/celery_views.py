"""The tasks and workers pages (registered on the console's blueprint by `views.make_blueprint`).

Tasks: the project's registered tasks (core's `introspect.tasks`) with a form per task built
from its signature; sending, retrying and revoking need an admin (and a CSRF token, checked by
the blueprint); the list of tasks sent from the console polls every 2 s while one may change.
Workers: a table from the live state and background inspect rounds (roster.py), polled every
3 s and never waiting for a worker; pool grow/shrink, queue consumers and warm shutdown for
admins. The tasks page also lists the beat schedule (beat.py).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_htmx import make_response

from flasker.db import error_line

from . import activity
from . import tasks as store
from . import workers as remote
from ._site import EXTENSION, ConsoleSite, console_site
from .access import current_operator
from .introspection import registered_tasks


def _project() -> Any:
    """The project; when `flasker console` serves it, never started (its modules are not
    imported here): control/inspect need no task modules, and its tasks come from a
    subprocess (`introspection.registered_tasks`)."""
    return current_app.extensions[EXTENSION].project


def _manager() -> ConsoleSite:
    return console_site()


def _htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


# -- tasks ----------------------------------------------------------------------------------
def _task_list(project: Any) -> store.TaskList:
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return store.recent(project, _manager().check_timeout)
    except SQLAlchemyError as error:
        detail = error_line(error)
        return store.TaskList([], f"the database did not answer: {detail}")


def tasks_page() -> Any:
    project = _project()
    forms = [store.TaskForm(task) for task in registered_tasks(project)]
    return render_template(
        "flasker_console/tasks.html",
        forms=forms,
        listing=_task_list(project),
        sent=request.args.get("sent"),
        beat=_beat_schedule(project, [form.name for form in forms]),
    )


def tasks_list() -> Any:
    if not _htmx():
        return redirect(url_for(".tasks"))
    return render_template(
        "flasker_console/partials/task_list.html", listing=_task_list(_project())
    )


def tasks_send() -> Any:
    project = _project()
    name = request.form.get("task", "")
    registered = {task["name"]: task for task in registered_tasks(project)}
    task = registered.get(name)
    if task is None:
        raise store.TaskInputError(f"no task named {name!r} is registered in this project")
    try:
        args, kwargs = store.arguments_from_form(task, request.form)
        countdown, queue = store.options_from_form(request.form)
    except store.TaskInputError as error:
        form = store.TaskForm(task, dict(request.form), getattr(error, "problems", {}))
        if _htmx():
            return render_template(
                "flasker_console/partials/error.html", status=error.status, message=str(error)
            ), error.status
        forms = [form if f["name"] == name else store.TaskForm(f) for f in registered.values()]
        return render_template(
            "flasker_console/tasks.html",
            forms=forms,
            listing=_task_list(project),
            sent=None,
            failed=name,
            message=str(error),
        ), error.status
    row = store.send(
        project,
        name,
        args,
        kwargs,
        countdown=countdown,
        queue=queue,
        sent_by=current_operator().email,
        timeout=_manager().check_timeout,
        record=True,
    )
    return _after_change(project, row, f"Sent {row.call} as task {row.task_id}.")


def tasks_retry(task_id: str) -> Any:
    project = _project()
    row = store.retry(
        project, task_id, current_operator().email, _manager().check_timeout, record=True
    )
    return _after_change(project, row, f"Sent {row.call} again as task {row.task_id}.")


def tasks_revoke(task_id: str) -> Any:
    project = _project()
    row = store.revoke(project, task_id, current_operator().email, record=True)
    return _after_change(project, row, f"Asked the workers to drop task {row.task_id}.")


def _after_change(project: Any, row: Any, message: str) -> Any:
    """The tasks page (or its message, for htmx); a task's own page when the form came from
    one (`back=detail`: the new task's page after a retry, the same after a revoke)."""
    if request.form.get("back") == "detail":
        flash(message, "task")
        return redirect(url_for(".task_detail", task_id=row.task_id), 303)
    if not _htmx():
        return redirect(url_for(".tasks", sent=row.task_id), 303)
    return render_template(
        "flasker_console/partials/task_sent.html",
        message=message,
        listing=_task_list(project),
    )


# -- workers --------------------------------------------------------------------------------
def _snapshot() -> remote.WorkersView:
    """The process's table (roster.py): the live state merged with the last background inspect
    round; building it asks no worker."""
    return _manager().workers_roster().view()


def _forget_workers() -> None:
    """A worker action changed what the table shows: the next refresh asks the workers."""
    _manager().workers_roster().forget()


def workers_page() -> Any:
    return render_template("flasker_console/workers.html", view=_snapshot())


def workers_table() -> Any:
    if not _htmx():
        return redirect(url_for(".workers"))
    return render_template("flasker_console/partials/workers_table.html", view=_snapshot())


def workers_pool() -> Any:
    project = _project()
    hostname = remote.hostname_field(request.form.get("hostname"))
    try:
        change = int(request.form.get("change", ""))
    except ValueError:
        raise store.TaskInputError("change: expected 1 or -1") from None
    if change not in (1, -1):
        raise store.TaskInputError("change: expected 1 or -1")
    if not _htmx() and request.form.get("confirm") != "yes":
        # htmx asks with hx-confirm; without JavaScript, a page asks
        return render_template(
            "flasker_console/worker_confirm.html", hostname=hostname, change=change
        )
    ok, detail = remote.pool_resize(project, hostname, change, _manager().inspect_timeout + 1)
    _forget_workers()
    verb = "grow" if change > 0 else "shrink"
    message = f"{hostname}: pool {verb}: {detail}"
    if not ok:
        raise store.TaskStateError(message)
    activity.record(
        project,
        current_operator().email,
        f"worker.pool_{verb}",
        hostname,
        activity.as_json({"change": change, "reply": detail}),
    )
    if _htmx():
        return make_response(
            render_template("flasker_console/partials/notice.html", message=message)
        )
    return redirect(url_for(".workers"), 303)


# -- workers: queue consumers and warm shutdown ---------------------------------------------
def _worker_done(message: str) -> Any:
    """A worker action's answer: a notice for htmx, else back to the page, which flashes it."""
    from flask import flash

    if _htmx():
        return make_response(
            render_template("flasker_console/partials/notice.html", message=message)
        )
    flash(message, "worker")
    return redirect(url_for(".workers"), 303)


def _consumer_change(add: bool) -> Any:
    project = _project()
    manager = _manager()
    hostname = remote.hostname_field(request.form.get("hostname"))
    queue = remote.queue_name(request.form.get("queue"))
    try:
        reply = remote.change_consumer(
            project, hostname, queue, add, manager.inspect_timeout + 1, manager.check_timeout
        )
    finally:
        _forget_workers()
    activity.record(
        project,
        current_operator().email,
        "worker.add_consumer" if add else "worker.cancel_consumer",
        hostname,
        activity.as_json({"queue": queue, "reply": reply}),
    )
    return _worker_done(f"{hostname}: {reply}.")


def workers_consumer_add() -> Any:
    return _consumer_change(add=True)


def workers_consumer_cancel() -> Any:
    return _consumer_change(add=False)


def workers_shutdown() -> Any:
    project = _project()
    manager = _manager()
    hostname = remote.hostname_field(request.form.get("hostname"))
    if not _htmx() and request.form.get("confirm") != "yes":
        # htmx asks with hx-confirm; without JavaScript, a page asks
        return render_template(
            "flasker_console/worker_confirm.html", hostname=hostname, action="shutdown"
        )
    try:
        reply = remote.shutdown(
            project, hostname, manager.inspect_timeout + 1, manager.check_timeout
        )
    finally:
        _forget_workers()
    activity.record(project, current_operator().email, "worker.shutdown", hostname, reply)
    return _worker_done(f"{hostname}: {reply}.")


# -- tasks: the beat schedule ---------------------------------------------------------------
def _beat_schedule(project: Any, registered: list[str]) -> Any:
    """The schedule for the tasks page; a schedule that cannot be read is said, not raised."""
    import logging

    from . import beat

    try:
        return beat.read_schedule(project, registered=registered)
    except Exception as error:
        logging.getLogger(__name__).exception("the console could not read the beat schedule")
        return beat.BeatSchedule(state_detail=f"{type(error).__name__}: {error}")


def tasks_beat_run() -> Any:
    """Run now: send the entry's task with its args, kwargs and queue, as beat would."""
    from . import beat

    project = _project()
    registered = [task["name"] for task in registered_tasks(project)]
    entry = beat.find_entry(project, request.form.get("entry", ""), registered)
    args, kwargs, countdown, queue = beat.sendable(entry)
    operator = current_operator().email
    row = store.send(
        project,
        entry.task,
        args,
        kwargs,
        countdown=countdown,
        queue=queue,
        sent_by=operator,
        timeout=_manager().check_timeout,
    )
    activity.record(
        project,
        operator,
        "beat.run_now",
        f"{entry.name} {row.task_id}",
        activity.as_json({"task": entry.task, "args": args, "kwargs": kwargs, "queue": queue}),
    )
    return _after_change(
        project, row, f"Ran beat entry {entry.name} now: sent {row.call} as task {row.task_id}."
    )
