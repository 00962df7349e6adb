"""Flasker: one .cfg file drives a Flask app, its SQLAlchemy database and its Celery workers.

    from flasker import current_project

    app = current_project.app        # Flask
    db = current_project.db          # engine, sessions: db.session
    celery = current_project.celery  # Celery

`Model` is imported on first use (`from flasker import Model`, or flasker 0.1's
`from flasker.util import Model`) so that `flasker --help` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .exceptions import ConfigError, FlaskerError, ProjectError
from .globals import current_project
from .manager import Manager
from .project import Project, load_project

if TYPE_CHECKING:
    from .model import Model

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


def __getattr__(name: str) -> Any:
    if name == "Model":
        from .model import Model

        return Model
    raise AttributeError(f"module 'flasker' has no attribute {name!r}")
