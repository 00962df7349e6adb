"""Flasker: one .cfg file drives a Flask app, its SQLAlchemy database and its Celery workers.

    from flasker import current_project

    app = current_project.app        # Flask
    db = current_project.db          # engine, sessions: db.session
    celery = current_project.celery  # Celery

Public names are imported on first use (`from flasker import Model`, or flasker 0.1's
`from flasker.util import Model`) so that `flasker --help` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .exceptions import ConfigError, FlaskerError, ProjectError

if TYPE_CHECKING:
    from .config import Config, load_config
    from .globals import current_project
    from .manager import Manager
    from .model import Model
    from .project import Project, load_project

__version__ = "0.2.0.dev0"

__all__ = [
    "Config",
    "ConfigError",
    "FlaskerError",
    "Manager",
    "Model",
    "Project",
    "ProjectError",
    "__version__",
    "current_project",
    "load_config",
    "load_project",
]

# Public names imported on first use: `flasker --help` and `flasker new` must not pay for
# werkzeug, configupdater, SQLAlchemy or Celery.
_LAZY = {
    "Config": "config",
    "load_config": "config",
    "current_project": "globals",
    "Manager": "manager",
    "Model": "model",
    "Project": "project",
    "load_project": "project",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flasker' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    _namespace[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*_namespace, *__all__})


# Captured now: importing the submodule `flasker.globals` later binds the name `globals` here.
_namespace = globals()
