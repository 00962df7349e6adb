"""Several projects in one process: closing a project and forgetting what starting it changed
(see `flasker.testing`, which re-exports these)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .project import Project


def close_project(project: Project) -> None:
    """Release a project's database pool and Celery connections, and deactivate it."""
    if "celery" in project.__dict__:
        project.celery.close()
        backend = project.celery.__dict__.get("backend")
        if backend is not None and hasattr(backend, "ResultSession"):  # db+sqlite results
            with contextlib.suppress(Exception):
                backend.ResultSession().get_bind().dispose()
    project.close()


@contextlib.contextmanager
def restored_process_state() -> Iterator[None]:
    """Undo what starting projects changes in this process, for suites that start many.

    Python imports a module once and a project's MODULES register routes, tasks and models on
    it, so a second project of the same modules would find them taken. Inside this block, every
    project started is closed afterwards and the process forgets it: its modules (those under
    folders it added to `sys.path`), `sys.path`, models mapped on flasker's `Model` and their
    tables, Celery's shared tasks and default app, and root-logger handlers.
    """
    import logging
    import sys

    from celery import _state as celery_state

    from . import _stack
    from .model import Model

    modules = set(sys.modules)
    path = list(sys.path)
    tables = set(Model.metadata.tables)
    mappers = set(Model.registry.mappers)
    active = list(_stack.active)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # @shared_task registers a finalizer that adds the task to every later Celery app
    finalizers = set(celery_state._on_app_finalizers)
    default_app = celery_state.default_app
    try:
        yield
    finally:
        celery_state._on_app_finalizers.intersection_update(finalizers)
        celery_state.set_default_app(default_app)
        celery_state._tls.current_app = None
        for project in [p for p in _stack.active if p not in active]:
            close_project(project)
        _stack.active[:] = active
        added = [folder for folder in sys.path if folder not in path and folder]
        for name in set(sys.modules) - modules:
            # only project modules: a library imported lazily meanwhile must stay
            file = getattr(sys.modules[name], "__file__", None) or ""
            if any(file.startswith(folder + os.sep) for folder in added):
                del sys.modules[name]
        sys.path[:] = path
        _forget_models(mappers, tables)
        for handler in set(root.handlers) - set(handlers):
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def _forget_models(keep_mappers: set[Any], keep_tables: set[str]) -> None:
    """Unmap the models and drop the tables defined since the snapshot."""
    from .model import Model

    new = [m for m in Model.registry.mappers if m not in keep_mappers]
    if new:
        if not keep_mappers:
            Model.registry.dispose()
        else:  # a suite mapped models at import time: unmap only the new ones
            for mapper in new:
                Model.registry._dispose_manager_and_mapper(mapper.class_manager)
    for name in set(Model.metadata.tables) - keep_tables:
        Model.metadata.remove(Model.metadata.tables[name])
