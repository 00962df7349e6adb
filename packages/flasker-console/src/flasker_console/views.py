"""The mounted console's blueprint: the route table of every page and its template context.

One view per page renders the whole page, or only the partial an htmx request asks for; the
pages live in their own modules (overview_views, config_views, celery_views, history_views,
limits_views,
endpoints_page, activity_views, projects_views, metrics); blueprint.py has what they share
(CSRF, errors, htmx).
Changes need an admin when flasker-auth is on.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from . import config_views as config
from . import overview_views as overview
from ._site import console_site
from .access import admin_only, current_operator, logout_url, token_scoped
from .blueprint import BLUEPRINT_NAME as BLUEPRINT_NAME
from .blueprint import SAFE_METHODS as SAFE_METHODS
from .blueprint import console_blueprint as console_blueprint
from .blueprint import error_response as error_response
from .blueprint import htmx as htmx


def make_blueprint() -> Blueprint:
    blueprint = console_blueprint(_template_context, _error)
    blueprint.add_url_rule("/", "overview", overview.overview)
    blueprint.add_url_rule("/status", "status", overview.status)
    blueprint.add_url_rule("/overview/workers", "overview_workers", overview.overview_workers)
    blueprint.add_url_rule("/overview/tasks", "overview_tasks", overview.overview_tasks)
    blueprint.add_url_rule("/config", "config", config.config_page)
    blueprint.add_url_rule(
        "/config", "config_post", admin_only(config.config_post), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/config/validate", "config_validate", admin_only(config.config_validate), methods=["POST"]
    )
    blueprint.add_url_rule("/config/raw", "config_raw", config.config_raw_page)
    blueprint.add_url_rule(
        "/config/raw", "config_raw_post", admin_only(config.config_raw_post), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/config/raw/validate",
        "config_raw_validate",
        admin_only(config.config_raw_validate),
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
    from .metrics import metrics_page

    # an admin's session, or a Prometheus scraper's metrics:read token (never any other page)
    blueprint.add_url_rule(
        "/metrics", "metrics", token_scoped(admin_only(metrics_page), "metrics:read")
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
    from . import history_views as hv

    blueprint.add_url_rule("/tasks/history", "task_history", hv.history_page)
    blueprint.add_url_rule("/tasks/<task_id>", "task_detail", hv.task_page)
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
    from .limits_views import tasks_limits

    blueprint.add_url_rule(
        "/tasks/limits", "tasks_limits", admin_only(tasks_limits), methods=["POST"]
    )


def _template_context() -> dict[str, Any]:
    from flask_wtf.csrf import generate_csrf

    manager = console_site()
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
