"""The console's blueprint: overview and cfg editor pages, their htmx partials, CSRF, errors.

One view per page renders the whole page, or only the partial an htmx request asks for.
Unsafe requests need a CSRF token (the form's hidden field, or the `X-CSRFToken` header that
`<body hx-headers>` adds to every htmx request); changes need an admin when flasker-auth is on.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import (
    Blueprint,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_htmx import HTMX, make_response
from werkzeug.exceptions import HTTPException

from flasker import schema
from flasker.editor import version_of
from flasker.exceptions import ConfigError, FlaskerError, StaleConfigError

from . import editing
from ._site import EXTENSION, console_site
from .access import admin_only, current_operator, logout_url
from .exceptions import ConsoleError, CSRFError
from .health import project_checks
from .redaction import is_redacted, redact

if TYPE_CHECKING:
    from ._site import ConsoleSite

logger = logging.getLogger(__name__)

BLUEPRINT_NAME = "flasker_console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
htmx = HTMX()


def console_blueprint(
    context: Callable[[], dict[str, Any]], on_error: Callable[[Exception], Any]
) -> Blueprint:
    """The console's blueprint without its pages: templates, static files, CSRF on unsafe
    requests, the template context and the error page (the standalone root shares it)."""
    blueprint = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/_static",
    )
    blueprint.before_request(_protect)
    blueprint.context_processor(context)
    blueprint.register_error_handler(Exception, on_error)
    return blueprint


def make_blueprint() -> Blueprint:
    blueprint = console_blueprint(_template_context, _error)
    blueprint.add_url_rule("/", "overview", overview)
    blueprint.add_url_rule("/status", "status", status)
    blueprint.add_url_rule("/overview/workers", "overview_workers", overview_workers)
    blueprint.add_url_rule("/overview/tasks", "overview_tasks", overview_tasks)
    blueprint.add_url_rule("/config", "config", config_page)
    blueprint.add_url_rule("/config", "config_post", admin_only(config_post), methods=["POST"])
    blueprint.add_url_rule(
        "/config/validate", "config_validate", admin_only(config_validate), methods=["POST"]
    )
    blueprint.add_url_rule("/config/raw", "config_raw", config_raw_page)
    blueprint.add_url_rule(
        "/config/raw", "config_raw_post", admin_only(config_raw_post), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/config/raw/validate",
        "config_raw_validate",
        admin_only(config_raw_validate),
        methods=["POST"],
    )
    _add_celery_rules(blueprint)
    from . import endpoints_page as ep

    blueprint.add_url_rule("/endpoints", "endpoints", ep.endpoints_page)
    blueprint.add_url_rule(
        "/endpoints/try", "endpoints_try", admin_only(ep.endpoints_try), methods=["POST"]
    )
    from .activity_views import activity_page

    blueprint.add_url_rule("/activity", "activity", activity_page)
    from . import projects_views as pv

    blueprint.add_url_rule("/projects", "projects", pv.projects_page)
    blueprint.add_url_rule("/projects/health", "projects_health", pv.projects_health)
    blueprint.add_url_rule(
        "/projects", "projects_new", admin_only(pv.projects_new), methods=["POST"]
    )
    return blueprint


def _add_celery_rules(blueprint: Blueprint) -> None:
    """The tasks and workers pages (celery_views.py)."""
    from . import celery_views as cv

    blueprint.add_url_rule("/tasks", "tasks", cv.tasks_page)
    blueprint.add_url_rule("/tasks/list", "tasks_list", cv.tasks_list)
    blueprint.add_url_rule("/tasks", "tasks_send", admin_only(cv.tasks_send), methods=["POST"])
    blueprint.add_url_rule(
        "/tasks/<task_id>/retry", "tasks_retry", admin_only(cv.tasks_retry), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/tasks/<task_id>/revoke", "tasks_revoke", admin_only(cv.tasks_revoke), methods=["POST"]
    )
    blueprint.add_url_rule("/workers", "workers", cv.workers_page)
    blueprint.add_url_rule("/workers/table", "workers_table", cv.workers_table)
    blueprint.add_url_rule(
        "/workers/pool", "workers_pool", admin_only(cv.workers_pool), methods=["POST"]
    )
    for rule, name, view in (
        ("/workers/consumers", "workers_consumer_add", cv.workers_consumer_add),
        ("/workers/consumers/cancel", "workers_consumer_cancel", cv.workers_consumer_cancel),
        ("/workers/shutdown", "workers_shutdown", cv.workers_shutdown),
        ("/tasks/beat/run", "tasks_beat_run", cv.tasks_beat_run),
    ):
        blueprint.add_url_rule(rule, name, admin_only(view), methods=["POST"])


def _manager() -> ConsoleSite:
    return console_site()


def _cfg_path() -> Path:
    manager = _manager()
    assert manager.project is not None
    return Path(manager.project.config.path)


# -- request guards ---------------------------------------------------------------------------
def _protect() -> None:
    """CSRF for every unsafe request (Flask-WTF's token, checked here, not app-wide)."""
    if request.method in SAFE_METHODS:
        return
    if not current_app.secret_key:
        raise ConsoleError(
            f"changes from the console need [APP] SECRET_KEY in {_cfg_path()}: it signs the "
            "CSRF tokens that protect them (write SECRET_KEY = ${SECRET_KEY} and set it)"
        )
    from flask_wtf.csrf import ValidationError, validate_csrf

    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken")
    try:
        validate_csrf(token)
    except ValidationError as error:
        raise CSRFError(
            f"{error.args[0] if error.args else 'CSRF check failed'}: reload the page and try again"
        ) from None
    if request.is_secure and not _same_origin():
        raise CSRFError("the request did not come from this site's console page")


def _same_origin() -> bool:
    from urllib.parse import urlsplit

    source = request.headers.get("Origin") or request.referrer
    if not source:
        return False
    parts = urlsplit(source)
    return parts.scheme == request.scheme and parts.netloc == request.host


def _template_context() -> dict[str, Any]:
    from flask_wtf.csrf import generate_csrf

    manager = _manager()
    project = manager.project
    return {
        "htmx": htmx,
        "console": manager,
        "project": project,
        "operator": current_operator(),
        "csrf_token": (lambda: generate_csrf()) if current_app.secret_key else (lambda: ""),
        "auth_logout": logout_url(),
    }


def _error(error: Exception) -> Any:
    return error_response(error, "flasker_console/error.html")


def error_response(error: Exception, page: str) -> Any:
    """Expected errors as an error page (`page`, or the partial for htmx) with their status;
    never a traceback."""
    if isinstance(error, HTTPException):
        return error
    manager = current_app.extensions.get(EXTENSION)
    project = getattr(manager, "project", None)
    unavailable = project.unavailable(error) if project is not None else None
    if unavailable is not None:
        # the database or the broker is down, not the console: 503, its retry, no traceback
        template = "flasker_console/partials/error.html" if htmx else page
        body = render_template(template, message=unavailable.description, status=503)
        return body, 503, {"Retry-After": str(unavailable.retry_after_seconds)}
    if isinstance(error, ConsoleError):
        status, message = error.status, str(error)
    elif isinstance(error, FlaskerError):
        status, message = 500, str(error)
    else:
        logger.exception("console error on %s %s", request.method, request.path)
        status = 500
        message = (
            f"the console failed ({type(error).__name__}); the details are in the server's log"
        )
    template = "flasker_console/partials/error.html" if htmx else page
    return render_template(template, message=message, status=status), status


# -- overview --------------------------------------------------------------------------------
def overview() -> Any:
    manager = _manager()
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
    """The Workers card's body: who answers now (asked lazily, so the page never waits)."""
    if not htmx:
        return redirect(url_for(".workers"))
    view = _manager().workers_roster().view()  # the workers page's table, shared
    return render_template("flasker_console/partials/overview_workers.html", view=view)


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

    manager = _manager()
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
    from flasker.health import CheckTimeout
    from flasker.introspect import mask_url

    project = _manager().project
    assert project is not None
    url = mask_url(project.config.db_url)
    if isinstance(error, CheckTimeout):
        return f"{url}: {error}"
    original = getattr(error, "orig", None) or error
    first = (str(original).strip().splitlines() or [""])[0]
    kind = type(original).__name__
    return f"{url}: {kind}: {first}" if first else f"{url}: {kind}"


def status() -> Any:
    if not htmx:
        return redirect(url_for(".overview"))
    manager = _manager()
    assert manager.project is not None
    checks = project_checks(manager.project, manager.check_timeout)
    if request.args.get("alerts"):
        # pages other than the overview show only what is down (nothing when all is well)
        return render_template("flasker_console/partials/service_alerts.html", checks=checks)
    return render_template("flasker_console/partials/status.html", checks=checks)


# -- config editor: sections -----------------------------------------------------------------
def config_page() -> Any:
    path = _cfg_path()
    try:
        edit = editing.open_edit(path)
    except ConfigError as error:
        # the file on disk cannot be parsed: only raw mode can fix it
        return render_template(
            "flasker_console/config_unreadable.html", problems=error.problems, path=path
        ), 200
    except OSError as error:
        raise ConsoleError(f"cannot read {path}: {error.strerror or error}") from None
    return render_template(
        "flasker_console/config.html",
        saved=request.args.get("saved") is not None,
        **_editor_context(_for_operator(edit)),
    )


def config_validate() -> Any:
    edit = _section_edit()
    return render_template("flasker_console/partials/validated.html", edit=edit, raw=False)


def config_post() -> Any:
    edit = _section_edit()
    return _preview_or_save(edit, raw=False)


def _section_edit() -> editing.Edit:
    try:
        return editing.edit_from_form(_cfg_path(), request.form)
    except ConfigError as error:  # the text the page was made from cannot be parsed any more
        raise ConsoleError(f"{error}; open the raw editor to fix the file") from None


# -- config editor: raw text -----------------------------------------------------------------
def config_raw_page() -> Any:
    path = _cfg_path()
    try:
        edit = editing.open_raw(path)
    except (OSError, UnicodeError) as error:
        raise ConsoleError(f"cannot read {path}: {error}") from None
    return render_template(
        "flasker_console/config_raw.html",
        saved=request.args.get("saved") is not None,
        **_editor_context(_for_operator(edit)),
    )


def config_raw_validate() -> Any:
    edit = editing.raw_edit_from_form(_cfg_path(), request.form)
    return render_template("flasker_console/partials/validated.html", edit=edit, raw=True)


def config_raw_post() -> Any:
    edit = editing.raw_edit_from_form(_cfg_path(), request.form)
    return _preview_or_save(edit, raw=True)


def _for_operator(edit: editing.Edit) -> editing.Edit:
    """The edit as the operator may see it: viewers get secrets masked (see redaction.py)."""
    if current_operator().is_admin:
        return edit
    for card in edit.cards:
        for row in card.rows:
            row.written = row.value = redact(row.key, row.written)
    if edit.document is None:
        edit.text = "(this file cannot be parsed; only an admin may read its raw text)"
        return edit
    document = edit.document
    for section in document.sections():
        for key, value in document.items(section):
            if is_redacted(key, value):
                document.set(section, key, redact(key, value))
    edit.text = document.text
    return edit


# -- preview and save ------------------------------------------------------------------------
def _preview_or_save(edit: editing.Edit, raw: bool) -> Any:
    """`action=preview` shows the diff; `action=save` writes the file (valid and not stale)."""
    page = "flasker_console/config_raw.html" if raw else "flasker_console/config.html"
    action = request.form.get("action", "preview")
    conflict = None
    status = 200
    if not edit.is_valid:
        status = 422
    elif action == "save" and edit.is_changed:
        assert edit.document is not None
        try:
            edit.document.save()
        except StaleConfigError as error:
            conflict = error
            status = 409
        except ConfigError as error:  # only when the environment changed meanwhile
            edit.problems = list(error.problems)
            status = 422
        except OSError as error:
            raise ConsoleError(f"cannot write {edit.path}: {error.strerror or error}") from None
        else:
            diff = edit.diff()
            logger.info("cfg saved from the console: %s\n%s", edit.path, diff)
            _record_save(edit, diff)
            target = url_for(".config_raw" if raw else ".config", saved=1)
            if htmx:
                return make_response("", 200, redirect=target)
            return redirect(target, 303)
    context = _editor_context(edit, raw=raw, conflict=conflict)
    if htmx:
        return render_template("flasker_console/partials/previewed.html", **context), status
    return render_template(page, preview=True, **context), status


def _record_save(edit: editing.Edit, diff: str) -> None:
    """Add the save to the activity log (never fails the save: activity.record warns)."""
    from . import activity

    try:
        target = activity.cfg_target(edit.path.name, edit.base_text, edit.text)
        project = _manager().project
        assert project is not None
        activity.record(project, current_operator().email, "cfg.saved", target, diff)
    except Exception as error:
        logger.warning("the console could not record the cfg save: %s", error)


def _editor_context(
    edit: editing.Edit, raw: bool = False, conflict: StaleConfigError | None = None
) -> dict[str, Any]:
    written = {card.name for card in edit.cards}
    context: dict[str, Any] = {
        "edit": edit,
        "raw": raw,
        "conflict": conflict,
        "section_names": [n for n in schema.all_section_names() if n not in written],
        "conflict_diff": "",
    }
    if conflict is not None:
        name = edit.path.name
        context["conflict_diff"] = "".join(
            difflib.unified_diff(
                conflict.current_text.splitlines(keepends=True),
                edit.text.splitlines(keepends=True),
                fromfile=f"{name} (on disk now)",
                tofile=f"{name} (yours)",
            )
        )
    return context
