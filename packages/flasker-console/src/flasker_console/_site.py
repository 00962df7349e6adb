"""The ConsoleManager as the pages see it: where it is registered and a Protocol of it.

`manager.py` builds the blueprint (views.py and the pages it registers); the pages read the
manager's options back from `app.extensions`. Typing them against `ConsoleSite` instead of
importing `ConsoleManager` keeps the imports one way: the manager imports the pages, never the
reverse. `ConsoleManager` satisfies the Protocol structurally.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .exceptions import ConsoleError

if TYPE_CHECKING:
    from datetime import datetime

    from flasker.project import Project

    from .endpoint_listing import Listing
    from .events import EventListener
    from .roster import WorkersRoster

#: Where the manager registers itself in `app.extensions`.
EXTENSION = "flasker_console"


class ConsoleSite(Protocol):
    """What the console's pages ask of the registered ConsoleManager."""

    project: Project | None
    url_prefix: str
    check_timeout: float
    inspect_timeout: float
    projects_root: Path | None
    project_url: Callable[[str], str] | None
    seen_workers: dict[str, datetime]
    endpoints_listing: Listing | None
    events: bool
    task_history_days: float

    def event_listener(self) -> EventListener | None: ...

    def workers_roster(self) -> WorkersRoster: ...

    def stop_listener(self, timeout: float = 5.0) -> None: ...


def console_cfg_path() -> Path:
    """The cfg file of the project the console is mounted in."""
    project = console_site().project
    if project is None:  # init_project sets it before any request
        raise ConsoleError("the console is not registered on a project")
    return Path(project.config.path)


def console_site() -> ConsoleSite:
    """The app's ConsoleManager (in a request or app context of an app that mounts it)."""
    from flask import current_app  # here: `flasker --help` loads this module, not Flask

    site: ConsoleSite = current_app.extensions[EXTENSION]
    return site
