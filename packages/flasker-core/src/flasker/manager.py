"""The extension protocol: what `project.register_manager(manager)` expects.

flasker 0.1's extensions (the API, auth) were managers; so are flasker-api's `APIManager`,
flasker-auth's `AuthManager` and the console's `ConsoleManager`. A manager may read its own cfg
section (declared through `flasker.config_sections`), add blueprints and hooks when registered,
and finish its work when the project starts, after every module is imported::

    class HealthManager(Manager):
        config_section = "HEALTH"

        def init_project(self, project):
            project.app.add_url_rule("/health", "health", lambda: "ok")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .project import Project


@dataclass(frozen=True)
class ServeInfo:
    """How `flasker server` is about to serve the app (given to `Manager.on_serve`)."""

    host: str
    port: int
    debug: bool
    prod: bool

    @property
    def is_loopback(self) -> bool:
        """Only this machine can connect (127.0.0.0/8, ::1, localhost)."""
        from ._net import is_loopback_address

        return is_loopback_address(self.host)


class Manager:
    """Base class for extensions; every hook is optional."""

    #: Name of the cfg section this manager reads (declared through a SectionSchema), if any.
    config_section: str | None = None

    def init_project(self, project: Project) -> None:
        """Called by `register_manager`: add blueprints, hooks and CLI-visible state here."""

    def on_start(self, project: Project) -> None:
        """Called once every module is imported (every model and view exists)."""

    def on_serve(self, project: Project, serving: ServeInfo) -> None:
        """Called by `flasker server` in the process that serves, just before it serves (e.g.
        flasker-auth prints a one-time sign-in link for local development)."""

    def settings(self, project: Project) -> dict[str, Any]:
        """This manager's cfg section as a dict (empty without a section)."""
        if self.config_section is None:
            return {}
        return dict(project.config.section(self.config_section))
