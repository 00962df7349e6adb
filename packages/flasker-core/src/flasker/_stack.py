"""The projects activated in this process, the last one innermost: the state `current_project`
reads.

It sits below `project` (which pushes itself here when activated) and `model` (whose
`find_or_create` needs the current session), so neither has to import `globals`, which types
`current_project` as the `Project` built above them. Entries are `Project` objects; this
module only stores them.
"""

from __future__ import annotations

from typing import Any

from .exceptions import NoProjectError

#: Activated projects, innermost last (`Project.activate` / `deactivate`).
active: list[Any] = []


def push(project: Any) -> None:
    active.append(project)


def pop(project: Any) -> None:
    if project in active:
        active.remove(project)


def find_current() -> Any | None:
    """The project of the Flask app in context, else the one activated last, else None."""
    from flask import current_app, has_app_context

    if has_app_context():
        project = current_app.extensions.get("flasker")
        if project is not None:
            return project
    return active[-1] if active else None


def require_current() -> Any:
    """The running project; `NoProjectError` when there is none."""
    project = find_current()
    if project is None:
        raise NoProjectError(
            "no active project: run through the flasker CLI, or call Project(path).activate() "
            "(or use 'with Project(path):') before using current_project"
        )
    return project
