"""`ConsoleManager`: mounts the operator console in a project.

    from flasker import current_project
    from flasker_console import ConsoleManager

    current_project.register_manager(ConsoleManager())          # at /console

The prefix comes from the keyword argument, else `[CONSOLE] URL_PREFIX`, else `/console`.
Register flasker-auth's manager too before exposing the console beyond your machine: without
it every page says that anyone who can reach it may change the cfg.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from flasker.manager import Manager

from .exceptions import ConsoleSetupError
from .settings import CONSOLE_SECTION

if TYPE_CHECKING:
    from flasker.project import Project

EXTENSION = "flasker_console"


class ConsoleManager(Manager):
    """The HTMX operator console (overview and cfg editor) as a blueprint of the project's app.

    Keyword arguments override the `[CONSOLE]` section: `url_prefix`, `check_timeout`.
    """

    config_section = "CONSOLE"

    def __init__(
        self,
        url_prefix: str | None = None,
        check_timeout: float | None = None,
        inspect_timeout: float | None = None,
    ):
        given = {
            "URL_PREFIX": url_prefix,
            "CHECK_TIMEOUT": check_timeout,
            "INSPECT_TIMEOUT": inspect_timeout,
        }
        self._overrides = {k: v for k, v in given.items() if v is not None}
        self.project: Project | None = None
        self.url_prefix = "/console"
        self.check_timeout = 2.0
        self.inspect_timeout = 1.5
        #: Workers this process has seen answer (hostname → when), to list them offline later.
        self.seen_workers: dict[str, datetime] = {}

    def __repr__(self) -> str:
        return f"<ConsoleManager {self.url_prefix or '/'}>"

    def init_project(self, project: Project) -> None:
        from flask_htmx import HTMX

        from .views import make_blueprint

        options: dict[str, Any] = CONSOLE_SECTION.defaults()
        options.update({k: v for k, v in self.settings(project).items() if v is not None})
        options.update(self._overrides)
        prefix = str(options["URL_PREFIX"]).strip().strip("/")
        self.url_prefix = "/" + prefix if prefix else ""
        self.check_timeout = _seconds(options, "CHECK_TIMEOUT")
        self.inspect_timeout = _seconds(options, "INSPECT_TIMEOUT")

        app = project.app
        if app.extensions.get(EXTENSION) is not None:
            raise ConsoleSetupError("a ConsoleManager is already registered on this project")
        app.extensions[EXTENSION] = self
        self.project = project
        if not hasattr(app, "htmx"):
            HTMX(app)
        app.register_blueprint(make_blueprint(), url_prefix=self.url_prefix or None)


def _seconds(options: dict[str, Any], key: str) -> float:
    name = key.lower()
    try:
        value = float(options[key])
    except (TypeError, ValueError):
        raise ConsoleSetupError(
            f"ConsoleManager {name}: expected seconds, got {options[key]!r}"
        ) from None
    if value <= 0:
        raise ConsoleSetupError(f"ConsoleManager {name} must be more than 0 seconds")
    return value
