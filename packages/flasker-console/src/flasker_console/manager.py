"""`ConsoleManager`: mounts the operator console in a project.

    from flasker import current_project
    from flasker_console import ConsoleManager

    current_project.register_manager(ConsoleManager())          # at /console

The prefix comes from the keyword argument, else `[CONSOLE] URL_PREFIX`, else `/console`.
Register flasker-auth's manager too before exposing the console beyond your machine: without
it every page says that anyone who can reach it may change the cfg.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flasker.manager import Manager

from ._site import EXTENSION
from .exceptions import ConsoleSetupError
from .settings import CONSOLE_SECTION

if TYPE_CHECKING:
    from flasker.project import Project

    from .backlog import Sampler
    from .endpoint_listing import Listing
    from .events import EventListener
    from .live import LiveState
    from .roster import WorkersRoster

__all__ = ["EXTENSION", "ConsoleManager"]


class ConsoleManager(Manager):
    """The HTMX operator console (overview and cfg editor) as a blueprint of the project's app.

    Keyword arguments override the `[CONSOLE]` section: `url_prefix`, `check_timeout`,
    `inspect_timeout`, `projects_root`, `events` (False: no events listener thread),
    `task_history_days`.
    """

    config_section = "CONSOLE"

    def __init__(
        self,
        url_prefix: str | None = None,
        check_timeout: float | None = None,
        inspect_timeout: float | None = None,
        projects_root: str | os.PathLike[str] | None = None,
        events: bool | None = None,
        task_history_days: float | None = None,
    ):
        given = {
            "URL_PREFIX": url_prefix,
            "CHECK_TIMEOUT": check_timeout,
            "INSPECT_TIMEOUT": inspect_timeout,
            "PROJECTS_ROOT": projects_root,
            "EVENTS": events,
            "TASK_HISTORY_DAYS": task_history_days,
        }
        self._overrides = {k: v for k, v in given.items() if v is not None}
        self.project: Project | None = None
        self.url_prefix = "/console"
        self.check_timeout = 2.0
        self.inspect_timeout = 1.5
        #: The folder the Projects page lists (see `[CONSOLE] PROJECTS_ROOT`).
        self.projects_root: Path | None = None
        #: Set by the standalone console (`flasker console --root`): the URL of a project's
        #: console by its folder name; None when mounted in one project.
        self.project_url: Callable[[str], str] | None = None
        #: Workers this process has seen answer (hostname → when), to list them offline later.
        self.seen_workers: dict[str, datetime] = {}
        #: The endpoints page's listing, built once: a started app's rules cannot change.
        self.endpoints_listing: Listing | None = None
        #: Listen to Celery's events for the overview's chart (`[CONSOLE] EVENTS`).
        self.events = True
        #: Days a task stays in the history after its last event (`[CONSOLE]
        #: TASK_HISTORY_DAYS`).
        self.task_history_days = 7.0
        self._listener: EventListener | None = None
        self._listener_lock = threading.Lock()
        self._roster: WorkersRoster | None = None
        self._sampler: Sampler | None = None
        self._live: LiveState | None = None

    def __repr__(self) -> str:
        return f"<ConsoleManager {self.url_prefix or '/'}>"

    def init_project(self, project: Project) -> None:
        from flask_htmx import HTMX

        from .views import BLUEPRINT_NAME, make_blueprint

        options: dict[str, Any] = CONSOLE_SECTION.defaults()
        options.update({k: v for k, v in self.settings(project).items() if v is not None})
        options.update(self._overrides)
        prefix = str(options["URL_PREFIX"]).strip().strip("/")
        self.url_prefix = "/" + prefix if prefix else ""
        self.check_timeout = _seconds(options, "CHECK_TIMEOUT")
        self.inspect_timeout = _seconds(options, "INSPECT_TIMEOUT")
        self.projects_root = _projects_root(options.get("PROJECTS_ROOT"), project)
        self.events = _flag(options.get("EVENTS", True))
        self.task_history_days = _seconds(options, "TASK_HISTORY_DAYS", "days")

        app = project.app
        if app.extensions.get(EXTENSION) is not None:
            raise ConsoleSetupError("a ConsoleManager is already registered on this project")
        app.extensions[EXTENSION] = self
        self.project = project
        if not hasattr(app, "htmx"):
            HTMX(app)
        app.register_blueprint(make_blueprint(), url_prefix=self.url_prefix or None)
        app.before_request_funcs.setdefault(BLUEPRINT_NAME, []).append(self._start_listener)

    # -- the events listener (events.py) ------------------------------------------------------
    def event_listener(self) -> EventListener | None:
        """This process's listener (started by the first console request), or None when it is
        off or not started yet."""
        listener = self._listener
        if listener is None or listener.pid != os.getpid():
            return None
        return listener

    def _start_listener(self) -> None:
        """Start the listener, and the queue backlog's sampler (backlog.py), on the first
        console request of each process (after a fork the parent's threads are gone, so a
        child starts its own); never waits for the broker."""
        if not self.events or self.project is None:
            return
        listener = self._listener
        if listener is not None and listener.pid == os.getpid():
            return
        from .events import EventListener

        with self._listener_lock:
            if self._listener is None or self._listener.pid != os.getpid():
                self._listener = EventListener(
                    self.project,
                    live=self._live_state(),
                    history_days=self.task_history_days,
                )
                self._listener.start()
            self._start_sampler()

    def _start_sampler(self) -> None:
        """The backlog sampler of this process (the caller holds `_listener_lock`): counts
        the queues the workers table's last round says are consumed, every
        `backlog.SAMPLE_EVERY` seconds, the first one after that pause (the overview counts
        at once when it is opened)."""
        from .backlog import Sampler

        assert self.project is not None
        sampler = self._sampler
        if sampler is not None and sampler.pid == os.getpid():
            return
        self._sampler = Sampler(self.project, self._consumed_queues, self.check_timeout)
        self._sampler.start()

    def _consumed_queues(self) -> dict[str, int]:
        """Queue → online workers consuming it, from the workers table's last round (never a
        broadcast: the sampler does not ask the workers)."""
        from .queues import consumed_queues

        last = self.workers_roster().last_round()
        return consumed_queues(last.workers) if last is not None else {}

    def live_state(self) -> LiveState | None:
        """What this process heard on the event stream (live.py), kept across listener
        restarts; None when the listener is off (`[CONSOLE] EVENTS = false`)."""
        if not self.events:
            return None
        with self._listener_lock:
            return self._live_state()

    def _live_state(self) -> LiveState:
        """The process's live state (the caller holds `_listener_lock`); a forked child
        starts empty: the parent's listener thread does not feed it."""
        from .live import LiveState

        live = self._live
        if live is None or live.pid != os.getpid():
            live = self._live = LiveState()
            live.on_join.append(self._worker_joined)
        return live

    def _worker_joined(self, hostname: str) -> None:
        """A worker was heard that was not online: the workers table asks it now (in the
        background) for its pool and queues, before anyone opens the page."""
        self.workers_roster().refresh(hostname)

    # -- the workers table (roster.py) ----------------------------------------------------------
    def workers_roster(self) -> WorkersRoster:
        """This process's workers table, shared by every session (a forked child makes its
        own: the parent's round thread is not in it)."""
        roster = self._roster
        if roster is not None and roster.pid == os.getpid():
            return roster
        from .roster import WorkersRoster

        assert self.project is not None
        with self._listener_lock:
            if self._roster is None or self._roster.pid != os.getpid():
                self._roster = WorkersRoster(
                    self.project,
                    self.inspect_timeout,
                    self.check_timeout,
                    seen=self.seen_workers,
                    live=self._live_while_listening,
                )
            return self._roster

    def _live_while_listening(self) -> LiveState | None:
        """The live state while this process's listener hears the broker; otherwise (events
        off, listener stopped, broker away) None, and the workers table falls back on the
        inspect rounds alone, which also say when the broker is down."""
        listener = self.event_listener()
        if listener is None or not listener.is_running or not listener.connected:
            return None
        return listener.live

    def stop_listener(self, timeout: float = 5.0) -> None:
        """Stop this process's listener (it writes what it holds first) and backlog sampler;
        a later console request starts new ones."""
        with self._listener_lock:
            listener, self._listener = self._listener, None
            sampler, self._sampler = self._sampler, None
        if sampler is not None and sampler.pid == os.getpid():
            sampler.stop(timeout)
        if listener is not None and listener.pid == os.getpid():
            listener.stop(timeout)


def _projects_root(value: Any, project: Project) -> Path:
    """The Projects page's folder: as given (relative to the cfg's folder), else the folder
    above the project's folder."""
    folder = Path(project.config.path).parent
    if value is None or str(value).strip() == "":
        return folder.parent.resolve()
    return (folder / Path(str(value)).expanduser()).resolve()


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _seconds(options: dict[str, Any], key: str, unit: str = "seconds") -> float:
    """A positive finite number of `unit` (seconds, or days for the history)."""
    import math

    name = key.lower()
    try:
        value = float(options[key])
    except (TypeError, ValueError):
        raise ConsoleSetupError(
            f"ConsoleManager {name}: expected {unit}, got {options[key]!r}"
        ) from None
    if not value > 0 or not math.isfinite(value):
        raise ConsoleSetupError(f"ConsoleManager {name} must be more than 0 {unit}")
    return value
