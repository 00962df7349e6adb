"""`Project`: one cfg file turned into a Flask app, a database and a Celery app.

Everything is built lazily, on first use, so a command that only needs the config never pays
for Flask, SQLAlchemy or Celery. `start()` imports the MODULES in order (with the cfg folder on
`sys.path`), lets registered managers finish, and creates missing tables::

    project = Project("examples/houses/default.cfg").start()
    project.app      # Flask
    project.db       # Database: engine, sessionmaker, scoped session
    project.celery   # Celery, tasks run in the app context
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
import weakref
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from . import _stack
from .config import Config, load_config
from .exceptions import ConfigError, ProjectError

if TYPE_CHECKING:
    from celery import Celery
    from flask import Flask
    from flask_caching import Cache
    from sqlalchemy.orm import Session, scoped_session

    from .db import Database
    from .exceptions import DatabaseUnavailableError, ServiceUnavailableError

logger = logging.getLogger(__name__)


class Extension(Protocol):
    """What `register_manager` accepts: `flasker.manager.Manager` and its subclasses.

    Declared here, by what the project and the packages that walk `project.managers` call,
    because `manager` builds on `project` (its hooks receive the project) and the project must
    not import it back.
    """

    @property
    def config_section(self) -> str | None: ...

    def init_project(self, project: Project) -> None: ...

    def on_start(self, project: Project) -> None: ...

    # `serving` is a `flasker.manager.ServeInfo` (declared above this module)
    def on_serve(self, project: Project, serving: Any) -> None: ...


ExtensionT = TypeVar("ExtensionT", bound=Extension)


class Project:
    """A Flasker project: the cfg file and the apps it describes.

    `config` may be a path, a loaded `Config`, or None to discover the cfg file like the CLI
    does (`$FLASKER_CONFIG`, `default.cfg` in the current folder, `[tool.flasker]`).
    """

    def __init__(self, config: str | os.PathLike[str] | Config | None = None) -> None:
        if not isinstance(config, Config):
            from .discovery import find_config

            config = load_config(find_config(config))
        self.config: Config = config
        self.managers: list[Extension] = []
        self.is_started = False
        self._modules: list[ModuleType] = []
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<Project {self.config.name!r} {self.config.path}>"

    # -- the three apps (built on first use) -------------------------------------------------
    @cached_property
    def app(self) -> Flask:
        from flask import Flask

        from ._assets import init_assets
        from ._broker_errors import attach_broker_errors
        from .json import OrjsonProvider

        config = self.config
        folder = config.app_folder
        project_section = config.section("PROJECT")
        app = Flask(
            config.modules[0].split(".")[0] if config.modules else "flasker_app",
            root_path=str(folder),
            static_folder=str(folder / project_section["STATIC_FOLDER"]),
            static_url_path=project_section["STATIC_URL"].rstrip("/") or None,
            template_folder=str(folder / project_section["TEMPLATE_FOLDER"]),
            instance_path=str(config.state_folder / "instance"),
        )
        app.json = OrjsonProvider(app)
        init_assets(app)
        # Session cookies are HttpOnly already (Flask's default); SameSite=Lax keeps them off
        # cross-site POSTs. The cfg may say otherwise; `flasker server --prod` adds Secure.
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
        app.config.update(config.app)
        app.extensions["flasker"] = self
        self._attach_session_lifecycle(app)
        attach_broker_errors(app, config)  # a view sending a task while the broker is away: 503
        return app

    @cached_property
    def db(self) -> Database:
        from .db import Database

        return Database(self.config)

    @cached_property
    def celery(self) -> Celery:
        from .celery_app import make_celery

        return make_celery(self)

    @cached_property
    def cache(self) -> Cache:
        from .cache import make_cache

        cache = make_cache(self.config)
        cache.init_app(self.app)
        return cache

    @property
    def session(self) -> scoped_session[Session]:
        """The scoped session (flasker 0.1 exposed it as `project.session` too)."""
        return self.db.session

    @property
    def folder(self) -> Path:
        return self.config.folder

    # -- activation ----------------------------------------------------------------------------
    def activate(self) -> Project:
        """Make this the project `current_project` points at outside requests and tasks."""
        _stack.push(self)
        return self

    def deactivate(self) -> None:
        _stack.pop(self)

    def __enter__(self) -> Project:
        return self.activate()

    def __exit__(self, *exc_info: object) -> None:
        self.deactivate()

    # -- extensions ----------------------------------------------------------------------------
    def register_manager(self, manager: ExtensionT) -> ExtensionT:
        """Plug in an extension (APIManager, AuthManager, ConsoleManager, your own)."""
        with self._lock:
            if self.is_started:
                raise ProjectError(
                    f"cannot register {type(manager).__name__} after the project started: "
                    "register managers in a module listed in [PROJECT] MODULES"
                )
            if any(m is manager for m in self.managers):
                raise ProjectError(f"{type(manager).__name__} is already registered")
            self.managers.append(manager)
        init = getattr(manager, "init_project", None)
        if init is not None:
            init(self)
        return manager

    # -- start-up ------------------------------------------------------------------------------
    def start(self, prepare_schema: bool = True) -> Project:
        """Import MODULES, finish managers, create missing tables; once per project.

        `prepare_schema=False` skips the database entirely (`flasker check` imports the modules
        before it knows whether the database answers).
        """
        with self._lock:
            if self.is_started:
                raise ProjectError(f"{self} already started (its modules were imported once)")
            self.activate()
            self._import_modules()
            for manager in list(self.managers):
                on_start = getattr(manager, "on_start", None)
                if on_start is not None:
                    on_start(self)
            self.is_started = True
            if "celery" in sys.modules:
                # The modules use Celery: make ours the app `@shared_task` and `current_app`
                # resolve to, in every thread, or their tasks would go to Celery's default
                # broker instead of the project's.
                self.celery.set_default()
                self.celery.set_current()
        if self.config.section("LOGGING"):
            from .log import configure_logging

            configure_logging(self.config)
        if prepare_schema:
            self._prepare_schema()
        return self

    def _import_modules(self) -> None:
        folder = str(self.config.folder)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        for name in self.config.modules:
            self._modules.append(self._import_module(name))

    def _import_module(self, name: str) -> ModuleType:
        owner = _owner_of(name)
        if owner is not None and owner is not self:
            raise ProjectError(
                f"module {name!r} (listed in [PROJECT] MODULES) was already imported by "
                f"{owner!r}: Python runs a module once, so its routes and tasks stay with that "
                "project. Use one project per process (or close the first and remove the "
                "module from sys.modules)."
            )
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name and (name == error.name or name.startswith(error.name + ".")):
                raise self.config.error(
                    "PROJECT",
                    "MODULES",
                    f"module {name!r} not found (looked in {self.config.folder} and sys.path)",
                ) from None
            raise ProjectError(
                f"importing {name} (listed in [PROJECT] MODULES) failed: {error}"
            ) from error
        except (ConfigError, ProjectError):
            raise
        except Exception as error:
            raise ProjectError(
                f"importing {name} (listed in [PROJECT] MODULES) failed: "
                f"{type(error).__name__}: {error}"
            ) from error
        _IMPORTED_BY[name] = (module, weakref.ref(self), repr(self))
        return module

    @property
    def migrations_folder(self) -> Path:
        return self.config.folder / "migrations"

    def _prepare_schema(self) -> None:
        """Create missing tables, unless Alembic owns the schema; then warn when it is behind."""
        from sqlalchemy.exc import OperationalError

        try:
            self._create_or_check_schema()
        except OperationalError as error:
            raise self.config.error(
                "PROJECT",
                "DB_URL",
                f"the database does not answer: {str(error.orig or error).strip()}",
            ) from None

    def _create_or_check_schema(self) -> None:
        if self.migrations_folder.is_dir():
            from .migrations import pending_revisions

            pending = pending_revisions(self)
            if pending:
                logger.warning(
                    "the database is %d migration(s) behind (%s): run 'flasker db upgrade'",
                    len(pending),
                    ", ".join(pending),
                )
        elif self.config.get("PROJECT", "CREATE_TABLES", True):
            from .model import Model

            if Model.metadata.tables:
                created = self.db.create_all()
                if created:
                    logger.info("created tables: %s", ", ".join(created))

    def _attach_session_lifecycle(self, app: Flask) -> None:
        """Commit before the response leaves (status < 400), remove the session after.

        A database that cannot answer (see `flasker.db.is_unavailable`), in a view or in that
        commit, answers 503 with `Retry-After` through the app's handler for it (the API's
        problem+json, else werkzeug's page), instead of a 500 and a logged traceback."""
        from flask import g
        from sqlalchemy.exc import SQLAlchemyError

        from ._unavailable import answer, pass_on

        @app.before_request
        def _note_commits() -> None:
            # to tell, if the database fails later, whether this request began a COMMIT
            g._flasker_commits = self.db.commits_started() if "db" in self.__dict__ else 0

        @app.after_request
        def _commit(response: Any) -> Any:
            if "db" in self.__dict__:
                try:
                    self.db.finish(success=response.status_code < 400)
                except SQLAlchemyError as error:
                    unavailable = self._database_unavailable(error)
                    if unavailable is None:
                        raise
                    return app.make_response(answer(app, unavailable))
            return response

        @app.errorhandler(SQLAlchemyError)
        def _database_error(error: SQLAlchemyError) -> Any:
            unavailable = self._database_unavailable(error)
            if unavailable is not None:
                return answer(app, unavailable)
            # any other database error goes on as if this handler did not exist: to the app's
            # handler of a wider class (Exception) if there is one, else a 500
            mro = type(error).__mro__
            return pass_on(app, error, set(mro[: mro.index(SQLAlchemyError) + 1]))

        @app.teardown_appcontext
        def _remove(_exc: BaseException | None) -> None:
            if "db" in self.__dict__:
                self.db.remove()

    def unavailable(self, error: BaseException) -> ServiceUnavailableError | None:
        """The 503 to answer for `error` when it means the database or the task broker cannot
        answer now; None for anything else (a bug). The app answers these by itself; a
        blueprint with a catch-all error handler of its own (Flask prefers it to the app's
        handlers), such as the console's, asks here first."""
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(error, SQLAlchemyError):
            return self._database_unavailable(error)
        from ._broker_errors import broker_unavailable

        return broker_unavailable(self.config, error)

    def _database_unavailable(self, error: BaseException) -> DatabaseUnavailableError | None:
        """The 503 to answer for `error` (with whether the request may have stored anything),
        logged in one line; None when `error` is not the database being unavailable."""
        from flask import g, request

        from .db import error_line, unavailable_error

        began = self.db.commits_started() > g.get("_flasker_commits", 0)
        unavailable = unavailable_error(error, may_be_stored=began)
        if unavailable is not None:
            logger.warning(
                "database unavailable, answered 503 to %s %s%s: %s: %s",
                request.method,
                request.path,
                " (it had begun to commit)" if began else "",
                type(error).__name__,
                error_line(error, limit=200),
            )
        return unavailable

    # -- shutting down -------------------------------------------------------------------------
    def close(self) -> None:
        """Release connections and stop being current (tests, scripts)."""
        if "db" in self.__dict__:
            self.db.dispose()
        self.deactivate()


#: Which project imported each MODULES entry: the module object (to notice it was removed from
#: sys.modules and may be imported afresh) and a weak reference to the project.
_IMPORTED_BY: dict[str, tuple[ModuleType, weakref.ref[Project], str]] = {}


def _owner_of(name: str) -> Project | str | None:
    """The project (or, if it is gone, its description) whose import of `name` is still loaded."""
    entry = _IMPORTED_BY.get(name)
    if entry is None or sys.modules.get(name) is not entry[0]:
        return None
    return entry[1]() or entry[2]


def load_project(config: str | os.PathLike[str] | Config | None = None) -> Project:
    """Build and start a project (what every CLI command that runs project code does)."""
    return Project(config).start()
