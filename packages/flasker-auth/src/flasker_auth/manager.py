"""`AuthManager` and the `GoogleAuthManager` preset: sign-in, the guard, users and tokens.

Registering the manager closes the app: from then on every view needs a signed-in user unless
it is public (see guard.py). Options come from keyword arguments, else the `[AUTH]` cfg
section, else its defaults; string arguments are interpolated like cfg values, so secrets stay
in the environment::

    from flasker import current_project
    from flasker_auth import AuthManager, GoogleAuthManager

    current_project.register_manager(GoogleAuthManager(
        client_id="…", client_secret="${GOOGLE_CLIENT_SECRET}",
        authorized_emails=["hers@example.com"], admins=["hers@example.com"]))

    # any OpenID Connect provider (Keycloak, Auth0, Okta, GitLab, a company IdP):
    current_project.register_manager(AuthManager(
        "keycloak", "https://sso.example.com/realms/main/.well-known/openid-configuration",
        client_id="flasker", client_secret="${OIDC_SECRET}", authorized_domains=["example.com"]))

With no client id at all, only the development link signs in (`flasker server` on loopback,
with `--debug`, or without it when `DEV_LOGIN = true`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click
from flask import Response, request
from flask import session as flask_session
from sqlalchemy import select

from flasker.manager import Manager, ServeInfo

from ._duration import parse_duration
from ._site import BLUEPRINT_NAME, EXTENSION, SESSION_VERSION_KEY
from .callback import callback_url, require_external_address
from .exceptions import AuthSetupError
from .options import dev_login_mode, external_url, interpolated
from .policy import ADMIN, AccessPolicy, normalize_email
from .problems import problem_response
from .settings import AUTH_SECTION, GOOGLE_METADATA_URL

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.orm import Session
    from werkzeug.wrappers import Response as BaseResponse

    from flasker.project import Project

    from .models import AuthModels, UserRecord
    from .oidc import OIDCClient

logger = logging.getLogger(__name__)

__all__ = [
    "BLUEPRINT_NAME",
    "SESSION_VERSION_KEY",
    "AnonymousUser",
    "AuthManager",
    "GoogleAuthManager",
]


class AnonymousUser:
    """Flask-Login's anonymous user, with the attributes templates ask a user for."""

    is_authenticated = False
    is_active = False
    is_anonymous = True
    is_admin = False
    email = None
    name = None
    role = None

    def get_id(self) -> None:
        return None

    def has_role(self, *roles: str) -> bool:
        return False


class AuthManager(Manager):
    """Sign-in through any OpenID Connect provider, allow-lists, roles, API tokens.

    Keyword arguments override the `[AUTH]` section: `provider_name`, `server_metadata_url`,
    `client_id`, `client_secret`, `scopes`, `authorized_emails`, `authorized_domains`,
    `admins`, `public_endpoints`, `token_default_expiry`, `dev_login` (`"auto"`, `"true"`,
    `"false"` or a bool), `external_url`, `url_prefix`.
    """

    config_section = "AUTH"
    blueprint_name = BLUEPRINT_NAME

    def __init__(
        self,
        provider_name: str | None = None,
        server_metadata_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: Iterable[str] | None = None,
        *,
        authorized_emails: Iterable[str] | None = None,
        authorized_domains: Iterable[str] | None = None,
        admins: Iterable[str] | None = None,
        public_endpoints: Iterable[str] | None = None,
        token_default_expiry: str | None = None,
        dev_login: bool | str | None = None,
        external_url: str | None = None,
        url_prefix: str | None = None,
    ) -> None:
        given = {
            "PROVIDER": provider_name,
            "SERVER_METADATA_URL": server_metadata_url,
            "CLIENT_ID": client_id,
            "CLIENT_SECRET": client_secret,
            "SCOPES": scopes,
            "AUTHORIZED_EMAILS": authorized_emails,
            "AUTHORIZED_DOMAINS": authorized_domains,
            "ADMINS": admins,
            "PUBLIC_ENDPOINTS": public_endpoints,
            "TOKEN_DEFAULT_EXPIRY": token_default_expiry,
            "DEV_LOGIN": dev_login,
            "EXTERNAL_URL": external_url,
            "URL_PREFIX": url_prefix,
        }
        self._overrides = {k: interpolated(k, v) for k, v in given.items() if v is not None}
        self.project: Project | None = None
        self.options: dict[str, Any] = {}
        self.policy = AccessPolicy()
        self.public_endpoints: frozenset[str] = frozenset()
        self.url_prefix = "/auth"
        self.token_default_expiry: timedelta | None = timedelta(days=90)
        self.oidc: OIDCClient | None = None
        #: `DEV_LOGIN`: auto, true or false.
        self.dev_login = "auto"
        #: `EXTERNAL_URL` without its trailing slash, or None.
        self.external_url: str | None = None
        #: Set by `on_serve` when `flasker server` serves on loopback, not in prod, and
        #: DEV_LOGIN allows it (auto: with --debug; true: always).
        self.dev_login_active = False
        self._dev_base = "http://127.0.0.1:5000" + self.url_prefix
        self._dev_secret: str | None = None
        self._dev_lock = threading.Lock()
        self._models: AuthModels | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.options.get('PROVIDER') or 'dev only'}>"

    # -- options -----------------------------------------------------------------------------------
    def _resolve(self, project: Project) -> None:
        options = AUTH_SECTION.defaults()
        options.update({k: v for k, v in project.config.section("AUTH").items() if v is not None})
        options.update(self._overrides)
        if str(options.get("PROVIDER") or "").lower() == "google":
            options.setdefault("SERVER_METADATA_URL", GOOGLE_METADATA_URL)
        self.options = options
        self.policy = AccessPolicy.of(
            options.get("AUTHORIZED_EMAILS", ()),
            options.get("AUTHORIZED_DOMAINS", ()),
            options.get("ADMINS", ()),
        )
        self.public_endpoints = frozenset(options.get("PUBLIC_ENDPOINTS", ()))
        prefix = str(options.get("URL_PREFIX") or "/auth").strip("/")
        self.url_prefix = "/" + prefix if prefix else ""
        try:
            self.token_default_expiry = parse_duration(str(options["TOKEN_DEFAULT_EXPIRY"]))
        except ValueError as error:
            raise AuthSetupError(f"TOKEN_DEFAULT_EXPIRY: {error}") from None
        self.dev_login = dev_login_mode(options.get("DEV_LOGIN", "auto"))
        self.external_url = external_url(options.get("EXTERNAL_URL"))

    @property
    def models(self) -> AuthModels:
        if self._models is None:
            from .models import auth_models

            self._models = auth_models()
        return self._models

    # -- the Manager protocol ----------------------------------------------------------------------
    def init_project(self, project: Project) -> None:
        from flask_login import LoginManager  # type: ignore[import-untyped]  # flask-login ships no type information

        from .guard import check_request
        from .models import auth_models
        from .views import make_blueprint

        self.project = project
        self._resolve(project)
        self._models = auth_models()
        app = project.app
        if app.extensions.get(EXTENSION) is not None:
            raise AuthSetupError("an AuthManager is already registered on this project")
        app.extensions[EXTENSION] = self

        login_manager = LoginManager()
        login_manager.init_app(app)
        login_manager.anonymous_user = AnonymousUser
        login_manager.user_loader(self._load_user)
        login_manager.unauthorized_handler(self.refuse_anonymous)
        self.login_manager = login_manager

        client_id = self.options.get("CLIENT_ID")
        if client_id:
            self.oidc = self._make_oidc(app, str(client_id))
        app.register_blueprint(make_blueprint(self))
        app.before_request(lambda: check_request(self))
        self._add_template_globals(app)

    def on_start(self, project: Project) -> None:
        if not project.app.secret_key:
            raise AuthSetupError(
                f"sign-in keeps users in Flask's session, which needs a SECRET_KEY: add "
                f"'SECRET_KEY = ${{SECRET_KEY}}' to [APP] in {project.config.path}"
            )
        # flasker-api's add_all_models would otherwise expose the users and token hashes.
        for manager in project.managers:
            if manager.config_section == "API" and callable(getattr(manager, "authorize", None)):
                manager.authorize(self._api_authorizer)  # type: ignore[attr-defined]

    def on_serve(self, project: Project, serving: ServeInfo) -> None:
        """Refuse `--prod` when the callback URL would come from the Host header; print a
        one-time admin sign-in link when serving locally (see DEV_LOGIN)."""
        wanted = self.dev_login == "true" or (self.dev_login == "auto" and serving.debug)
        self.dev_login_active = wanted and serving.is_loopback and not serving.prod
        if serving.prod:
            self.require_external_address(project)
        self._dev_secret = None
        if not self.dev_login_active:
            return
        from .devlink import link_url

        self._dev_base = link_url(serving, self.url_prefix)
        try:
            with project.app.app_context():
                self.announce_dev_link(new=True)
        except Exception as error:  # a missing table must not stop the server
            click.echo(f"flasker: no development sign-in link ({error})", err=True)

    def announce_dev_link(self, new: bool = False) -> None:
        """Print the development sign-in link on the server's terminal: the live one again, or
        a new one when it was used or expired (at most one is live at a time). `on_serve` calls
        it, and so does the sign-in page, so the link is the terminal's last line when someone
        looks for it. The link itself never reaches a browser."""
        from .devlink import create_link, link_is_live

        with self._dev_lock:
            session = self.db_session()
            secret = None if new else self._dev_secret
            if secret is None or not link_is_live(session, self.models, secret):
                secret = create_link(session, self.models)
                session.commit()
                self._dev_secret = secret
        click.echo(
            click.style(f"flasker: sign in at {self._dev_base}/dev/{secret}", bold=True)
            + "  (one-time link for a local admin, valid 10 minutes)",
            err=True,
        )

    def require_external_address(self, project: Project) -> None:
        """`--prod` with a provider: the callback URL must not come from the Host header
        (AuthSetupError naming what to set)."""
        require_external_address(project, self.oidc is not None, self.external_url)

    def callback_url(self) -> str:
        """The provider's redirect URI for this request (SignInError when it cannot be
        trusted): see callback.py."""
        return callback_url(f"{self.blueprint_name}.callback", self.external_url)

    # -- helpers used by the guard, the views and the CLI ------------------------------------------
    def db_session(self) -> Session:
        assert self.project is not None, "the AuthManager is not registered"
        return self.project.db.session  # type: ignore[return-value]

    def find_user(self, email: str) -> UserRecord | None:
        address = normalize_email(email)
        if address is None:
            return None
        user_model = self.models.User
        return self.db_session().scalar(select(user_model).where(user_model.email == address))

    def may_use(self, user: UserRecord) -> bool:
        """Is this stored user still allowed in (checked at every request)?"""
        from .devlink import DEV_EMAIL

        if user.email == DEV_EMAIL:
            return self.dev_login_active
        return bool(user.invited) or self.policy.allows(user.email)

    def record_sign_in(self, email: str, name: Any = None, role: str | None = None) -> UserRecord:
        """Create or update the user who just signed in; commit."""
        from .models import utcnow

        session = self.db_session()
        user = self.find_user(email)
        if user is None:
            user = self.models.User(
                email=normalize_email(email),
                role=role or self.policy.role_for(email),
                invited=False,
                created=utcnow(),
            )
            session.add(user)
        else:
            new_role = role or (ADMIN if self.policy.role_for(email) == ADMIN else user.role)
            if new_role != user.role:
                user.role = new_role
                user.end_sessions()
        if isinstance(name, str) and name.strip():
            user.name = name.strip()[:200]
        user.last_sign_in = utcnow()
        session.commit()
        return user

    def _load_user(self, user_id: str) -> UserRecord | None:
        try:
            key = int(user_id)
        except (TypeError, ValueError):
            return None
        user = self.db_session().get(self.models.User, key)
        if user is None or not self.may_use(user):
            return None
        if flask_session.get(SESSION_VERSION_KEY) != user.session_version:
            return None  # signed out, role changed or removed since: a stale (or copied) cookie
        return user  # type: ignore[no-any-return]

    def _api_authorizer(self, endpoint: str, method: str, model: type | None) -> bool:
        return model is None or model not in self.models.all()

    # -- refusals ----------------------------------------------------------------------------------
    @property
    def realm(self) -> str:
        name = self.project.config.name if self.project is not None else "flasker"
        return name.replace("\\", "").replace('"', "")

    def api_prefixes(self) -> list[str]:
        prefixes = []
        for manager in self.project.managers if self.project is not None else ():
            if manager.config_section == "API":
                prefix = getattr(manager, "url_prefix", None)
                if isinstance(prefix, str):
                    prefixes.append(prefix.rstrip("/"))
        return prefixes

    def is_api_request(self) -> bool:
        """Under the API's prefix, or asking for JSON and not for HTML."""
        path = request.path
        for prefix in self.api_prefixes():
            if not prefix or path == prefix or path.startswith(prefix + "/"):
                return True
        accept = request.accept_mimetypes
        return bool(request.headers.get("Accept")) and accept.accept_json and not accept.accept_html

    def refuse_anonymous(self) -> BaseResponse:
        from .guard import login_url, redirect_to_login

        if self.is_api_request():
            return problem_response(
                401,
                "sign in, or send 'Authorization: Bearer <token>' (flasker auth token create)",
                {"WWW-Authenticate": f'Bearer realm="{self.realm}"'},
            )
        if request.headers.get("HX-Request"):
            return Response("", 401, headers={"HX-Redirect": login_url(self)})
        return redirect_to_login(self)

    def refuse_token(self, detail: str) -> Response:
        header = f'Bearer realm="{self.realm}", error="invalid_token"'
        return problem_response(401, detail, {"WWW-Authenticate": header})

    def refuse_forbidden(self, detail: str) -> Response:
        if self.is_api_request():
            return problem_response(403, detail)
        from .views import page

        html, _status, headers = page(self, "Not allowed", detail[:1].upper() + detail[1:] + ".")
        return Response(html, 403, headers=headers, mimetype="text/html")

    # -- setup helpers -----------------------------------------------------------------------------
    def _make_oidc(self, app: Flask, client_id: str) -> OIDCClient:
        from .oidc import OIDCClient

        metadata_url = self.options.get("SERVER_METADATA_URL")
        if not metadata_url:
            raise AuthSetupError(
                "CLIENT_ID is set but not SERVER_METADATA_URL: give the provider's discovery "
                "document (…/.well-known/openid-configuration), or PROVIDER = google"
            )
        name = str(self.options.get("PROVIDER") or "oidc").lower()
        return OIDCClient(
            app,
            name=name,
            server_metadata_url=str(metadata_url),
            client_id=client_id,
            client_secret=self.options.get("CLIENT_SECRET"),
            scopes=list(self.options.get("SCOPES") or ("openid", "email", "profile")),
        )

    @staticmethod
    def _add_template_globals(app: Flask) -> None:
        """`csrf_token()` for sign-out forms (Flask-WTF's CSRFProtect adds the same global)."""
        from flask_wtf.csrf import generate_csrf

        app.jinja_env.globals.setdefault("csrf_token", generate_csrf)


class GoogleAuthManager(AuthManager):
    """Sign-in with Google: `AuthManager` with Google's discovery document preset.

    Keeps flasker 0.1's one-liner working::

        current_project.register_manager(GoogleAuthManager(
            client_id="…", client_secret="${GOOGLE_CLIENT_SECRET}",
            authorized_emails=["hers@example.com"]))
    """

    def __init__(
        self,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: Iterable[str] | None = None,
        **options: Any,
    ) -> None:
        options.setdefault("provider_name", "google")
        options.setdefault("server_metadata_url", GOOGLE_METADATA_URL)
        super().__init__(client_id=client_id, client_secret=client_secret, scopes=scopes, **options)
