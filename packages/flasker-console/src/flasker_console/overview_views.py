"""The overview page: the project's cfg at a glance, its services' health, the workers card (with
the messages waiting in each queue) and the "Tasks, last hour" chart (each card refreshed by its
own htmx request)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import redirect, render_template, request, url_for

from flasker.editor import version_of
from flasker.exceptions import ConfigError

from . import editing
from ._site import console_site
from .blueprint import htmx
from .health import project_checks

if TYPE_CHECKING:
    from .queues import QueueLengths
    from .workers import WorkersView


def overview() -> Any:
    manager = console_site()
    project = manager.project
    assert project is not None
    path = Path(project.config.path)
    sections: list[tuple[str, int]] = []
    load_problem = None
    restart_needed = False
    try:
        text = path.read_text(encoding="utf-8")
        edit = editing.open_edit(path)
        sections = [(card.name, len(card.rows)) for card in edit.cards]
        if project.is_started:
            restart_needed = version_of(text) != project.config.version
        else:
            # `flasker console` serves the file as it is now (its app is rebuilt when it
            # changes): check it as a start would, so a bad value shows here too
            from flasker.config import load_config

            load_config(path)
    except (ConfigError, OSError) as error:
        load_problem = str(error)
    checks = project_checks(project, manager.check_timeout)
    database = next((check for check in checks if check.name == "database"), None)
    return render_template(
        "flasker_console/overview.html",
        path=path,
        sections=sections,
        load_problem=load_problem,
        restart_needed=restart_needed,
        checks=checks,
        **_chart_context(database.detail if database is not None and not database.ok else None),
    )


def overview_workers() -> Any:
    """The Workers card's body: who answers now (asked lazily, so the page never waits), and
    the messages waiting in each queue they consume and in the default queue."""
    if not htmx:
        return redirect(url_for(".workers"))
    view = console_site().workers_roster().view()  # the workers page's table, shared
    return render_template(
        "flasker_console/partials/overview_workers.html", view=view, queues=_queues(view)
    )


def _queues(view: WorkersView) -> QueueLengths:
    """queues.QueueLengths of the queues the online workers consume, within CHECK_TIMEOUT;
    not asked when the workers' own broker check just failed (it would wait as long again)."""
    from . import queues

    manager = console_site()
    project = manager.project
    assert project is not None
    consumers = queues.consumed_queues(view.workers)
    if not view.broker_ok:
        return queues.unanswered(project, consumers, "the broker did not answer")
    return queues.queue_lengths(project, consumers, manager.check_timeout)


def overview_tasks() -> Any:
    """The "Tasks, last hour" card's body, polled by the overview."""
    if not htmx:
        return redirect(url_for(".overview"))
    return render_template("flasker_console/partials/task_chart.html", **_chart_context())


def _chart_context(database_problem: str | None = None) -> dict[str, Any]:
    """The chart (one query, within CHECK_TIMEOUT), or why there is none, and the listener's
    state; `database_problem`: the overview's own check already found the database down."""
    from flasker.health import within

    from . import events

    manager = console_site()
    project = manager.project
    assert project is not None
    chart, problem = None, database_problem
    if problem is None:
        try:
            chart = within(manager.check_timeout, lambda: events.last_hour(project))
        except Exception as error:
            problem = _describe_database_error(error)
    listener = manager.event_listener()
    return {
        "chart": chart,
        "chart_problem": problem,
        "listener": listener.status() if listener is not None else None,
        "listening": manager.events,
    }


def _describe_database_error(error: BaseException) -> str:
    from flasker.db import error_line
    from flasker.health import CheckTimeout
    from flasker.introspect import mask_url

    project = console_site().project
    assert project is not None
    url = mask_url(project.config.db_url)
    if isinstance(error, CheckTimeout):
        return f"{url}: {error}"
    kind = type(getattr(error, "orig", None) or error).__name__
    line = error_line(error)  # the driver's first line, or the kind when it says nothing
    return f"{url}: {kind}" if line == kind else f"{url}: {kind}: {line}"


def status() -> Any:
    if not htmx:
        return redirect(url_for(".overview"))
    manager = console_site()
    assert manager.project is not None
    checks = project_checks(manager.project, manager.check_timeout)
    if request.args.get("alerts"):
        # pages other than the overview show only what is down (nothing when all is well)
        return render_template("flasker_console/partials/service_alerts.html", checks=checks)
    return render_template("flasker_console/partials/status.html", checks=checks)
