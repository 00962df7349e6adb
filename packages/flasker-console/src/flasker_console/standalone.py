"""`flasker console --root DIR`: one process serving the console over a folder of projects.

`/` is the Projects page; `/p/<folder>/` is the console of the project in that folder. Each
project's console is a Flask app of its own, built on first use around a `Project(config)` that
is never started: its modules are never imported in this process (tasks and endpoints come from
subprocesses, introspection.py), so two projects never share `sys.modules`. When the cfg file
changes (an edit through the console, or by hand) the project's app is built afresh on the next
request. A cfg that does not load still gets a console over a stand-in config (the overview
shows the error; the raw editor fixes the file)::

    app = StandaloneConsole(Path("projects"))
    app.wsgi_app  # a WSGI callable; `flasker console --root projects` serves it

With `auth=CFG` (`--auth CFG`) every page is behind flasker-auth instead, and any Host the
console's cfg names is answered (standalone_auth.py).
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Blueprint, Flask, redirect
from werkzeug.exceptions import NotFound

from . import projects as found
from ._hosts import guard_hosts
from .projects_views import STANDALONE_EXTENSION, ProjectsSite

if TYPE_CHECKING:
    from collections.abc import Iterable

    from _typeshed.wsgi import StartResponse, WSGIEnvironment

    from flasker.project import Project

    from .standalone_auth import Hub

#: Where a project's console lives under the standalone console.
PROJECT_PATH = "/p/"


BASE_KEY = "flasker_console.base"


class StandaloneConsole:
    """A WSGI app dispatching `/p/<folder>/…` to that project's console, the rest to `/`.

    With `auth` (the console's own cfg, see standalone_auth.py) the root is the hub's app,
    closed by flasker-auth, and a project's console is reached only by a signed-in operator.
    """

    def __init__(self, root: Path, check_timeout: float = 2.0, auth: Path | None = None) -> None:
        self.root = root.resolve()
        self.check_timeout = check_timeout
        self.hub: Hub | None = None
        if auth is not None:
            from .standalone_auth import Hub

            self.hub = Hub(auth)
        #: One key signs every app's session and CSRF tokens, so one browser session works
        #: across all the projects' consoles (they share the cookie's path, `/`).
        self.secret_key = self.hub.secret_key if self.hub is not None else secrets.token_hex(32)
        self.root_app = self._make_root_app()
        self._apps: dict[str, tuple[str, Flask, Project]] = {}
        self._lock = threading.Lock()
        if self.hub is not None:
            self._guarded = self.hub.host_guard(self._dispatch)
        else:
            self._guarded = guard_hosts(self._dispatch)  # loopback names only (_hosts.py)

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._guarded(environ, start_response)

    def _dispatch(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        base = environ.get("SCRIPT_NAME", "")
        environ[BASE_KEY] = base
        path = environ.get("PATH_INFO", "") or "/"
        if not path.startswith(PROJECT_PATH):
            return self.root_app(environ, start_response)
        slug, slash, rest = path[len(PROJECT_PATH) :].partition("/")
        # a bearer token's scope depends on the project's view: its app is looked up first
        bearer = self.hub is not None and bool(environ.get("HTTP_AUTHORIZATION"))
        app = self.app_for(slug) if bearer else None
        if self.hub is not None:
            refusal = self.hub.admit(environ, self._token_scope(environ, app, "/" + rest))
            if refusal is not None:
                return refusal(environ, start_response)
        if not bearer:
            app = self.app_for(slug)
        if app is None:
            return NotFound(f"no project {slug!r} in {self.root}")(environ, start_response)
        if not slash:
            target = f"{base}{PROJECT_PATH}{quote(slug, safe='')}/"
            return redirect(target, 308)(environ, start_response)
        environ["SCRIPT_NAME"] = f"{base}{PROJECT_PATH}{slug}"
        environ["PATH_INFO"] = "/" + rest
        return app(environ, start_response)

    def _token_scope(self, environ: WSGIEnvironment, app: Flask | None, path: str) -> str | None:
        """The token scope of the view of `app` (the project's console) a bearer-token request
        goes to (`Hub.token_scope_of`); None without a bearer token. For a folder that holds
        no project (`app` None), any project's console answers (they all have the same
        routes), so a token's refusal does not say which projects exist."""
        if self.hub is None or not environ.get("HTTP_AUTHORIZATION"):
            return None
        if app is None:
            with self._lock:
                app = next((known[1] for known in self._apps.values()), None)
        if app is None:
            return None
        return self.hub.token_scope_of(app, environ, path)

    # -- the projects' apps ----------------------------------------------------------------
    def app_for(self, slug: str) -> Flask | None:
        """The console app of the project in folder `slug`, rebuilt when its cfg changed."""
        if not slug:
            return None
        entry = found.find_project(self.root, slug)
        if entry is None or entry.cfg is None:
            return None
        from flasker.editor import version_of

        try:
            version = version_of(entry.cfg.read_text(encoding="utf-8"))
        except (OSError, UnicodeError):
            version = "unreadable"
        with self._lock:
            known = self._apps.get(slug)
            if known is not None and known[0] == version:
                return known[1]
            if known is not None:
                _release(known[2])
            project = self._project(entry.cfg)
            app = self._mount(project)
            self._apps[slug] = (version, app, project)
            return app

    def _project(self, cfg: Path) -> Project:
        from flasker.config import parse_config
        from flasker.exceptions import FlaskerError
        from flasker.project import Project

        try:
            return Project(cfg)
        except (FlaskerError, OSError, UnicodeError):
            # a stand-in config at the same path: the overview shows the file's error and
            # the raw editor can fix it
            stand_in = f"[PROJECT]\nNAME = {cfg.parent.name}\n"
            return Project(parse_config(stand_in, cfg, environ={}))

    def _mount(self, project: Project) -> Flask:
        from .manager import ConsoleManager

        app = project.app
        app.secret_key = self.secret_key
        if self.hub is not None:
            self.hub.share_session(app)
        manager = ConsoleManager(
            url_prefix="/", check_timeout=self.check_timeout, projects_root=self.root
        )
        project.register_manager(manager)
        manager.project_url = _project_url
        return app

    def close(self) -> None:
        with self._lock:
            for _version, _app, project in self._apps.values():
                _release(project)
            self._apps.clear()
        if self.hub is not None:
            self.hub.close()

    # -- the root: the Projects page -------------------------------------------------------
    def _make_root_app(self) -> Flask:
        from flask_htmx import HTMX

        from flasker._assets import init_assets

        if self.hub is not None:
            app = self.hub.app  # flasker-auth's guard closes every page of it
        else:
            app = Flask("flasker_console.standalone", root_path=str(Path(__file__).parent))
            app.secret_key = self.secret_key
        init_assets(app)
        HTMX(app)
        app.extensions[STANDALONE_EXTENSION] = ProjectsSite(
            root=self.root,
            check_timeout=self.check_timeout,
            layout="flasker_console/standalone_layout.html",
            project_url=_project_url,
        )
        app.register_blueprint(_root_blueprint())
        return app


def _project_url(slug: str) -> str:
    from flask import request

    return f"{request.environ.get(BASE_KEY, '')}{PROJECT_PATH}{quote(slug, safe='')}/"


def _release(project: Project) -> None:
    """Stop the project's events listener and close its Celery app and engine."""
    from contextlib import suppress

    from ._site import EXTENSION

    with suppress(Exception):
        manager = project.app.extensions.get(EXTENSION)
        if manager is not None:
            manager.stop_listener()
    with suppress(Exception):
        if "celery" in project.__dict__:
            project.celery.close()
    with suppress(Exception):
        project.close()


def _root_blueprint() -> Blueprint:
    """The Projects page at `/` (named like the console's blueprint, so templates and
    `url_for('flasker_console.…')` work unchanged)."""
    from .access import admin_only
    from .blueprint import console_blueprint
    from .projects_views import projects_health, projects_new, projects_page

    blueprint = console_blueprint(_root_context, _root_error)
    blueprint.add_url_rule("/", "projects", projects_page)
    blueprint.add_url_rule("/health", "projects_health", projects_health)
    blueprint.add_url_rule("/", "projects_new", admin_only(projects_new), methods=["POST"])
    return blueprint


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


class _RootProject:
    """What base.html reads of a project (`project.config.name`) on the root page."""

    def __init__(self, name: str) -> None:
        self.config = _Named(name)


def _root_context() -> dict[str, Any]:
    from flask import current_app
    from flask_wtf.csrf import generate_csrf

    from .access import current_operator, logout_url
    from .blueprint import htmx

    site = current_app.extensions[STANDALONE_EXTENSION]
    return {
        "htmx": htmx,
        "project": _RootProject(site.root.name or str(site.root)),
        "operator": current_operator(),
        "csrf_token": generate_csrf,
        "auth_logout": logout_url(),
    }


def _root_error(error: Exception) -> Any:
    from .blueprint import error_response

    return error_response(error, "flasker_console/standalone_error.html")
