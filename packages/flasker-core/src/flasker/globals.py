"""`current_project`: a proxy to the project that is running.

Inside a request or a task, it is the project of the Flask app in context; elsewhere (while
MODULES are imported, in a shell, in a script) it is the project last activated. That is what
lets project modules write `app = current_project.app` at import time, as in flasker 0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.local import LocalProxy

from .exceptions import NoProjectError

if TYPE_CHECKING:
    from .project import Project

_active: list[Project] = []


def get_current_project() -> Project:
    """The running project; `NoProjectError` when there is none."""
    from flask import current_app, has_app_context

    if has_app_context():
        project: Project | None = current_app.extensions.get("flasker")
        if project is not None:
            return project
    if _active:
        return _active[-1]
    raise NoProjectError(
        "no active project: run through the flasker CLI, or call Project(path).activate() "
        "(or use 'with Project(path):') before using current_project"
    )


def push(project: Project) -> None:
    _active.append(project)


def pop(project: Project) -> None:
    if project in _active:
        _active.remove(project)


current_project: Project = LocalProxy(get_current_project)  # type: ignore[assignment]
