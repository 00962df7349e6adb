"""`flasker console --root DIR --auth CFG`: the standalone console behind flasker-auth.

CFG is a Flasker cfg for the console itself (no MODULES: no code of it is imported)::

    [PROJECT]
    NAME = Console
    DB_URL = sqlite:///console.sqlite     # flasker-auth's users and tokens (default: next to CFG)

    [APP]
    SECRET_KEY = ${CONSOLE_SECRET_KEY}     # signs the one session every page shares

    [AUTH]                                 # exactly as in a project
    PROVIDER = google
    CLIENT_ID = ...
    CLIENT_SECRET = ${GOOGLE_CLIENT_SECRET}
    ADMINS = ops@example.com
    AUTHORIZED_EMAILS = dev@example.com
    EXTERNAL_URL = https://console.example.com

The hub is `Project(CFG)` with flasker-auth's `AuthManager` registered: its app serves the
Projects page at `/` and the sign-in routes, and its guard closes them to anonymous visitors.
A project's console (`/p/<folder>/…`, an app of its own, see standalone.py) is reached only
after `Hub.admit` has evaluated the request against the hub's app: anonymous visitors go to
the sign-in page; signed-in ones are put into the WSGI environ (`access.OPERATOR_KEY`), where
the console's `current_operator()` and `admin_only` find them, so viewers read and admins
change exactly as in a project with `ConsoleManager` next to `AuthManager`. Every app signs
with the hub's SECRET_KEY and uses its session cookie: one session, one CSRF token.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._hosts import guard_hosts
from .access import LOGOUT_KEY, OPERATOR_KEY
from .exceptions import ConsoleSetupError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed.wsgi import WSGIApplication
    from flask import Flask

    from flasker.project import Project

#: The session settings every project app takes from the hub, so they share one cookie.
SHARED_SESSION_SETTINGS = (
    "SESSION_COOKIE_NAME",
    "SESSION_COOKIE_DOMAIN",
    "SESSION_COOKIE_PATH",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_PARTITIONED",
    "PERMANENT_SESSION_LIFETIME",
    "WTF_CSRF_SECRET_KEY",
    "WTF_CSRF_FIELD_NAME",
    "WTF_CSRF_TIME_LIMIT",
)


class Hub:
    """The console's own project: flasker-auth's users, sessions and sign-in pages."""

    def __init__(self, cfg: Path) -> None:
        from flasker.project import Project
        from flasker_auth import AuthManager

        self.cfg = cfg.resolve()
        project = Project(self.cfg)
        if project.config.modules:
            raise ConsoleSetupError(
                f"{self.cfg}: the console's --auth cfg runs no code of its own; remove "
                "[PROJECT] MODULES"
            )
        self.project: Project = project
        self.auth = AuthManager()
        project.register_manager(self.auth)
        # what Project.start() does, without importing modules or making the hub the process's
        # current project: finish the managers (AuthManager checks SECRET_KEY), create tables
        for manager in list(project.managers):
            manager.on_start(project)
        project.is_started = True
        project.db.create_all()
        # served over https (behind a proxy): keep the session cookie off plain http, as
        # `flasker server --prod` does, unless [APP] says otherwise
        is_https = (self.auth.external_url or "").startswith("https://")
        if is_https and "SESSION_COOKIE_SECURE" not in project.config.app:
            self.app.config["SESSION_COOKIE_SECURE"] = True

    @property
    def app(self) -> Flask:
        return self.project.app

    @property
    def secret_key(self) -> str:
        return str(self.app.secret_key)

    def share_session(self, app: Flask) -> None:
        """Make a project's console app read and write the hub's session cookie."""
        app.secret_key = self.app.secret_key
        for key in SHARED_SESSION_SETTINGS:
            if key in self.app.config:
                app.config[key] = self.app.config[key]
            else:
                app.config.pop(key, None)

    # -- requests ----------------------------------------------------------------------------
    def admit(
        self, environ: dict[str, Any], scope: str | None = None
    ) -> Callable[..., Iterable[bytes]] | None:
        """Evaluate a request for a project's console against the hub's session.

        Returns the refusal (a WSGI response: the sign-in redirect, or 401 for htmx and API
        requests) for anonymous visitors, and flasker-auth's 403 for a change a page of another
        site sent; else None, with the operator put into the environ.

        `scope`: the request carries a bearer token and goes to a view marked for that token
        scope (`token_scope_of`: a project's `/metrics`, `metrics:read`). The token, checked
        against the hub's users and tokens as flasker-auth's guard checks it in a project,
        then signs the request in, for this request only; a bad one gets the guard's 401/403.
        """
        from flask import url_for
        from flask_login import current_user  # type: ignore[import-untyped]  # flask-login ships no type information

        from flasker_auth.guard import refuse_cross_origin, scoped_token_refusal

        environ.pop(OPERATOR_KEY, None)
        environ.pop(LOGOUT_KEY, None)
        with self.app.request_context(environ):
            cross_site = refuse_cross_origin(self.auth)
            if cross_site is not None:
                return cross_site
            if scope is not None:
                refusal = scoped_token_refusal(self.auth, scope)
                if refusal is not None:
                    return refusal
            elif not current_user.is_authenticated:
                return self.auth.refuse_anonymous()
            environ[OPERATOR_KEY] = (str(current_user.email), str(current_user.role))
            environ[LOGOUT_KEY] = url_for(f"{self.auth.blueprint_name}.logout")
        return None

    @staticmethod
    def token_scope_of(app: Flask, environ: dict[str, Any], path: str) -> str | None:
        """The token scope of the view of `app` (a project's console) that `path` reaches
        with the request's method, when the request carries a bearer token; else None (the
        session decides, and a bearer header opens nothing)."""
        from werkzeug.exceptions import HTTPException

        from flasker_auth import TOKEN_SCOPE_MARK

        scheme, _, value = str(environ.get("HTTP_AUTHORIZATION", "")).partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        try:
            endpoint, _arguments = app.url_map.bind("console").match(
                path, method=str(environ.get("REQUEST_METHOD", "GET"))
            )
        except HTTPException:
            return None
        view = app.view_functions.get(str(endpoint))
        scope = getattr(view, TOKEN_SCOPE_MARK, None)
        return scope if isinstance(scope, str) else None

    # -- which Host names are answered -------------------------------------------------------
    def trusted_names(self) -> list[str]:
        """The names configured for the site: TRUSTED_HOSTS, SERVER_NAME, EXTERNAL_URL's host."""
        config = self.app.config
        names = [str(name) for name in config.get("TRUSTED_HOSTS") or ()]
        if config.get("SERVER_NAME"):
            names.append(str(config["SERVER_NAME"]))
        if self.auth.external_url:
            host = urlsplit(self.auth.external_url).hostname
            if host:
                names.append(host)
        return names

    def host_guard(self, app: WSGIApplication) -> WSGIApplication:
        """Answer only to loopback names and the site's configured names (when any)."""
        return guard_hosts(app, self.trusted_names())

    # -- serving -----------------------------------------------------------------------------
    def check_serving(self, host: str, port: int) -> None:
        """Refuse to listen off loopback where flasker-auth could not sign anyone in safely."""
        from flasker.manager import ServeInfo
        from flasker_auth.exceptions import AuthSetupError

        if ServeInfo(host, port, debug=False, prod=False).is_loopback:
            return
        if self.auth.oidc is None:
            raise AuthSetupError(
                f"--host {host}: no sign-in provider is configured (CLIENT_ID in [AUTH] of "
                f"{self.cfg}), and the development link works on loopback only"
            )
        # off loopback as in production: the callback URL must not come from the Host header
        self.auth.require_external_address(self.project)
        if not self.trusted_names():
            raise AuthSetupError(
                f"--host {host}: set the console's public address, e.g. 'EXTERNAL_URL = "
                f"https://console.example.com' in [AUTH] of {self.cfg} (or TRUSTED_HOSTS in "
                "[APP]): it answers only to loopback names and those"
            )

    def on_serve(self, host: str, port: int) -> None:
        """What `flasker server` tells managers before it serves (flasker-auth prints the
        one-time development sign-in link when DEV_LOGIN allows it, on loopback only)."""
        from flasker.manager import ServeInfo

        serving = ServeInfo(host=host, port=port, debug=False, prod=False)
        for manager in list(self.project.managers):
            manager.on_serve(self.project, serving)
        if self.auth.oidc is None and not self.auth.dev_login_active:
            import click

            click.echo(
                f"flasker console: nobody can sign in: configure a provider (CLIENT_ID in "
                f"[AUTH] of {self.cfg}), or set DEV_LOGIN = true there for a one-time local "
                "admin link",
                err=True,
            )

    def close(self) -> None:
        self.project.close()
