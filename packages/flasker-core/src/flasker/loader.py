"""`ProjectLoader`: finds a project's cfg file and loads the project once, on demand.

The CLI hands one to every command (as `flasker.cli.ScriptInfo`, Flask's name for the same
idea); `flasker check` and `flasker server` receive it too. It lives below them so that
they need not import the CLI back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _stack

if TYPE_CHECKING:
    from pathlib import Path

    from .config import Config
    from .project import Project


class ProjectLoader:
    """The cfg path the user gave (or None to discover it) and the project, loaded on demand.

    Commands that run project code call `load_project()`; those that only read the project's
    routes or tasks, or check the database before touching it, pass `prepare_schema=False`.
    """

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self._project: Project | None = None

    def find_config(self) -> Path:
        from .discovery import find_config

        return find_config(self.config_path)

    def load_config(self) -> Config:
        from .config import load_config

        return load_config(self.find_config())

    def load_project(self, start: bool = True, prepare_schema: bool = True) -> Project:
        """The project of the cfg: the one already started in this process, else a new one,
        started unless `start=False` (`prepare_schema=False` leaves its database untouched)."""
        if self._project is None:
            self._project = self._already_running()
        if self._project is None:
            from .project import Project

            project = Project(self.load_config())
            if start:
                project.start(prepare_schema=prepare_schema)
            self._project = project
        return self._project

    def load_project_without_db(self) -> Project:
        """The project with its modules imported but its database untouched."""
        return self.load_project(prepare_schema=False)

    def _already_running(self) -> Project | None:
        """The started project of the same cfg in this process (a test suite, a shell).

        Its MODULES were imported once and their routes and tasks live on it; a second project
        of the same cfg would get empty apps, since Python does not import a module twice.
        """
        path = self.find_config().absolute()
        activated: list[Project] = _stack.active
        for project in reversed(activated):
            if project.is_started and project.config.path == path:
                return project
        return None
