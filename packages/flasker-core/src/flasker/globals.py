"""`current_project`: a proxy to the project that is running.

Inside a request or a task, it is the project of the Flask app in context; elsewhere (while
MODULES are imported, in a shell, in a script) it is the project last activated. That is what
lets project modules write `app = current_project.app` at import time, as in flasker 0.1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from werkzeug.local import LocalProxy

from . import _stack
from ._stack import pop, push

if TYPE_CHECKING:
    from .project import Project

#: The activated projects, innermost last (kept in `_stack`; this name is older).
_active: list[Project] = _stack.active

__all__ = ["current_project", "get_current_project", "pop", "push"]


def get_current_project() -> Project:
    """The running project; `NoProjectError` when there is none."""
    return cast("Project", _stack.require_current())


current_project: Project = LocalProxy(get_current_project)  # type: ignore[assignment]
