"""The overview page: the project's cfg at a glance, its services' health, the workers card (with
the messages waiting in each queue) and the "Tasks, last hour" chart (each card refreshed by its
own htmx request)."""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from flasker.editor import version_of
from flasker.exceptions import ConfigError

from . import backlog, editing
from ._site import console_site
from .blueprint import htmx
from .health import recent, recent_checks

if TYPE_CHECKING:
    from flasker.project import Project

    from .backlog import BacklogChart
    from .queues import QueueLengths
    from .workers import WorkersView


def overview() -> Any:
    manager = console_site()
    project = manager.project
    assert project is not None
    path = Path(project.config.path)
    sections, load_problem, version = _read_cfg(project, path)
    restart_needed = version is not None and version != project.config.version
    checks = recent_checks(project, manager.check_timeout)
    database = next((check for check in checks if check.name == "database"), None)
    chart = _chart_context(
        database.detail if database is not None and not database.ok else None, shared=True
    )
    return render_template(
        "flasker_console/overview.html",
        path=path,
        sections=sections,
        load_problem=load_problem,
        restart_needed=restart_needed,
        checks=checks,
        chart_html=_chart_html(project, chart),
        **chart,
    )


#: Project → (chart, listener state, the card's HTML): the overview's last chart card, drawn
#: again only when the chart (`recent`) or what the card says of the listener changed.
_drawn: weakref.WeakKeyDictionary[Project, tuple[Any, Any, Markup]] = weakref.WeakKeyDictionary()


def _chart_html(project: Project, context: dict[str, Any]) -> Markup:
    """The "Tasks, last hour" card body (partials/task_chart.html, 60 bars: most of the
    page's rendering) for `context` (`_chart_context`), reused while it shows the same chart."""
    listener, chart = context["listener"], context["chart"]
    state = (
        context["chart_problem"],
        context["listening"],
        None
        if listener is None
        else (listener.connected, listener.since, listener.problem, listener.database_problem),
    )
    drawn = _drawn.get(project)
    if chart is not None and drawn is not None and drawn[0] is chart and drawn[1] == state:
        return drawn[2]
    html = Markup(render_template("flasker_console/partials/task_chart.html", **context))
    if chart is not None:
        _drawn[project] = (chart, state, html)
    return html


def _read_cfg(project: Project, path: Path) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """The cfg card: (section, key count) pairs, why the file cannot be read or loaded, and
    the file's version when the app runs (None otherwise: no restart to ask for). Read again
    when the file changed on disk (its stat), else at most once per `FRESH_FOR` seconds."""
    try:
        stat = path.stat()
    except OSError:
        return _parse_cfg(path, project.is_started)
    key = ("cfg", str(path), project.is_started, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
    return recent(project).get(key, lambda: _parse_cfg(path, project.is_started))


def _parse_cfg(path: Path, started: bool) -> tuple[list[tuple[str, int]], str | None, str | None]:
    sections: list[tuple[str, int]] = []
    try:
        text = path.read_text(encoding="utf-8")
        edit = editing.open_edit(path)
        sections = [(card.name, len(card.rows)) for card in edit.cards]
        if started:
            return sections, None, version_of(text)
        # `flasker console` serves the file as it is now (its app is rebuilt when it
        # changes): check it as a start would, so a bad value shows here too
        from flasker.config import load_config

        load_config(path)
    except (ConfigError, OSError) as error:
        return sections, str(error), None
    return sections, None, None


def overview_workers() -> Any:
    """The Workers card's body: who answers now (asked lazily, so the page never waits), and
    the messages waiting in each queue they consume and in the default queue."""
    if not htmx:
        return redirect(url_for(".workers"))
    manager = console_site()
    project = manager.project
    assert project is not None
    view = manager.workers_roster().view()  # the workers page's table, shared
    lengths = _queues(view)  # first: a fresh count is the chart's newest sample
    chart, chart_problem = _backlog_chart(project, manager.check_timeout, lengths)
    return render_template(
        "flasker_console/partials/overview_workers.html",
        view=view,
        queues=lengths,
        backlog=chart,
        backlog_problem=chart_problem,
    )


def _queues(view: WorkersView) -> QueueLengths:
    """queues.QueueLengths of the queues the online workers consume, within CHECK_TIMEOUT
    (backlog.current: shared for a second, counted again when this process publishes); not
    asked when the workers' own broker check just failed (it would wait as long again)."""
    from . import queues

    manager = console_site()
    project = manager.project
    assert project is not None
    consumers = queues.consumed_queues(view.workers)
    if not view.broker_ok:
        return queues.unanswered(project, consumers, "the broker did not answer")
    return backlog.current(project, consumers, manager.check_timeout)


def _backlog_chart(
    project: Project, timeout: float, lengths: QueueLengths
) -> tuple[BacklogChart | None, str | None]:
    """The backlog chart of the last hour (one query), or why not; shared for a second while
    the queues hold what `lengths` counted (a new count is drawn at once)."""
    from flasker.health import within

    counted = tuple((queue.name, queue.messages) for queue in lengths.queues)
    try:
        chart = recent(project).get(
            ("backlog", timeout, counted),
            lambda: within(timeout, lambda: backlog.last_hour(project)),
        )
    except Exception as error:
        return None, _describe_database_error(error)
    return chart, None


def overview_tasks() -> Any:
    """The "Tasks, last hour" card's body, polled by the overview."""
    if not htmx:
        return redirect(url_for(".overview"))
    return render_template("flasker_console/partials/task_chart.html", **_chart_context())


def _chart_context(database_problem: str | None = None, shared: bool = False) -> dict[str, Any]:
    """The chart (one query, within CHECK_TIMEOUT), or why there is none, and the listener's
    state; `database_problem`: the overview's own check already found the database down.

    The card's own poll always asks the database, and leaves its answer to the overview page;
    the page (`shared`) takes the chart of the last `FRESH_FOR` seconds (`recent`), so opening
    it in many tabs costs one query a second. The listener's state is always the live one."""
    from flasker.health import within

    from . import events

    manager = console_site()
    project = manager.project
    assert project is not None
    chart, problem = None, database_problem
    if problem is None:
        timeout = manager.check_timeout

        def ask() -> Any:
            return within(timeout, lambda: events.last_hour(project))

        try:
            if shared:
                chart = recent(project).get(("chart", timeout), ask)
            else:
                chart = ask()
                recent(project).put(("chart", timeout), chart)
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
    checks = recent_checks(manager.project, manager.check_timeout)
    if request.args.get("alerts"):
        # pages other than the overview show only what is down (nothing when all is well)
        return render_template("flasker_console/partials/service_alerts.html", checks=checks)
    return render_template("flasker_console/partials/status.html", checks=checks)
