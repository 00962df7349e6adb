"""Fixtures of flasker-auth's tests: a real OpenID Connect provider and real projects.

- `oidc_provider` (session): `oidc_provider.py`'s provider, built on authlib's server
  components, on a free loopback port; `oidc` is the same provider with its knobs put back
  (an honest provider, Ada as the next user) and fails the test if it crashed.
- `make_site` (module): writes a project (cfg + one module of source text, with a unique module
  name) into a temporary folder, starts it and returns an `AuthSite`; everything that starting
  projects changes in the process is undone after the module.
- `AuthSite.browser()`: a Flask test client for the app that drives the sign-in redirect dance
  step by step; the provider's side of it goes over real HTTP (`requests`).

This folder has no `__init__.py` (flasker-core's tests are the package `tests`), so shared
helpers live here and reach tests through fixtures.
"""

from __future__ import annotations

import contextlib
import re
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa

from flasker import Project
from flasker.model import Model
from flasker.testing import close_project, restored_process_state

HERE = Path(__file__).parent
PROBLEM = "application/problem+json"
SECRET_KEY = "flasker-auth-tests-secret-key-0123456789"
#: What the app's redirect_uri looks like through the Flask test client.
APP_ORIGIN = "http://localhost"
#: Who may sign in to the standard site.
ALLOWED_EMAIL = "ada@allowed.test"
ADMIN_EMAIL = "root@admins.test"
ALLOWED_DOMAIN = "example.com"


def unique(prefix: str) -> str:
    """A module name (or client id) no other project of this process uses."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# -- the provider ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def oidc_provider(oidc_provider_module: Any) -> Iterator[Any]:
    yield from oidc_provider_module.running_provider()


@pytest.fixture
def oidc(oidc_provider: Any) -> Iterator[Any]:
    """The session's provider, honest again, with Ada as the next user."""
    oidc_provider.reset()
    yield oidc_provider
    errors = list(oidc_provider.errors)
    oidc_provider.reset()
    assert not errors, f"the test OIDC provider crashed: {errors!r}"


# -- projects -------------------------------------------------------------------------------------
@contextlib.contextmanager
def auth_process_state() -> Iterator[None]:
    """`restored_process_state()`, and forget flasker_auth's modules imported meanwhile.

    flasker_auth maps its models (users, tokens, links) on core's `Model` when imported; the
    restore unmaps models mapped inside the block, so the modules that declared them must be
    imported afresh by the next module's project."""
    before = set(sys.modules)
    try:
        with restored_process_state():
            yield
    finally:
        for name in set(sys.modules) - before:
            if name.split(".")[0] == "flasker_auth" or name == "flasker.ext.auth":
                del sys.modules[name]


def write_project(folder: Path, cfg: str, modules: Mapping[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in modules.items():
        path = folder / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    cfg_path = folder / "default.cfg"
    cfg_path.write_text(textwrap.dedent(cfg).lstrip(), encoding="utf-8")
    return cfg_path


class AuthSite:
    """A started project with auth: its app, cfg, database and the provider it trusts."""

    #: who may sign in to the standard site (see STANDARD)
    allowed_email = ALLOWED_EMAIL
    admin_email = ADMIN_EMAIL
    domain = ALLOWED_DOMAIN

    def __init__(self, project: Project, provider: Any, client_id: str) -> None:
        self.project = project
        self.app = project.app
        self.provider = provider
        self.client_id = client_id
        self.engine: sa.Engine = project.db.engine
        self.module = sys.modules[project.config.modules[0]]

    @property
    def notes(self) -> str:
        """The URL of the API collection of the site's one model."""
        (info,) = self.module.api.models.values()
        return f"/api/{info.collection}/"

    @property
    def cfg(self) -> Path:
        return Path(self.project.config.path)

    def browser(self) -> Browser:
        return Browser(self)

    # -- the CLI ------------------------------------------------------------------------------
    def cli(self, *args: str, ok: bool = True) -> Any:
        """`flasker -c CFG *args` through click's runner; `ok` asserts exit code 0."""
        from click.testing import CliRunner

        from flasker.cli import cli

        result = CliRunner().invoke(cli, ["-c", str(self.cfg), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, (args, result.exit_code, result.output)
        return result

    def create_token(self, email: str, scopes: str, *extra: str) -> str:
        """`flasker auth token create`; returns the token it prints once."""
        result = self.cli("auth", "token", "create", "--email", email, "--scopes", scopes, *extra)
        found = set(re.findall(r"fla_[A-Za-z0-9_\-]{20,}", result.output))
        assert len(found) == 1, result.output
        return found.pop()

    def add_user(self, email: str, role: str | None = None) -> None:
        args = ["auth", "user", "add", email]
        if role:
            args += ["--role", role]
        self.cli(*args)

    # -- the database ---------------------------------------------------------------------------
    def table(self, name: str) -> sa.Table:
        return Model.metadata.tables[name]

    def rows(self, table: str) -> list[dict[str, Any]]:
        t = self.table(table)
        with self.engine.connect() as connection:
            result = connection.execute(sa.select(t).order_by(*t.primary_key.columns))
            return [dict(row._mapping) for row in result]

    def user(self, email: str) -> dict[str, Any] | None:
        for row in self.rows("flasker_users"):
            if str(row["email"]).lower() == email.lower():
                return row
        return None

    def update(self, table: str, values: Mapping[str, Any], **where: Any) -> int:
        t = self.table(table)
        statement = sa.update(t).values(**values)
        for key, value in where.items():
            statement = statement.where(t.c[key] == value)
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount

    def clear(self) -> None:
        """Empty every table of the project (users, tokens, links, the app's own)."""
        existing = set(sa.inspect(self.engine).get_table_names())
        with self.engine.begin() as connection:
            for table in reversed(Model.metadata.sorted_tables):
                if table.name in existing:
                    connection.execute(table.delete())
        self.project.db.remove()


class Browser:
    """One user agent: a Flask test client (with its cookie jar) for the app, and real HTTP
    (`requests`, no cookies needed: the provider consents at once) for the provider."""

    def __init__(self, site: AuthSite) -> None:
        self.site = site
        self.provider = site.provider
        self.client = site.app.test_client()

    # -- plain requests -----------------------------------------------------------------------
    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, **kw)

    def open(self, method: str, path: str, **kw: Any) -> Any:
        return self.client.open(path, method=method, **kw)

    # -- the redirect dance, step by step -------------------------------------------------------
    def start_sign_in(self, next: str | None = None, url: str = "/auth/login") -> str:
        """GET /auth/login (or `url`, e.g. where the guard sent us): the app must send us to
        the provider's authorize endpoint; returns that URL."""
        query = {"next": next} if next is not None else None
        response = self.client.get(url, query_string=query)
        assert response.status_code in (302, 303), (response.status_code, response.text)
        location = response.headers["Location"]
        assert location.startswith(self.provider.url + "/authorize?"), location
        return location

    def authorize(self, authorize_url: str) -> str:
        """Follow the app's redirect at the provider (real HTTP); returns the callback URL."""
        response = requests.get(authorize_url, allow_redirects=False, timeout=10)
        assert response.status_code == 302, (response.status_code, response.text)
        callback = response.headers["Location"]
        assert callback.startswith(APP_ORIGIN + "/auth/callback?"), callback
        return callback

    def callback(self, callback_url: str) -> Any:
        """Arrive back at the app with the provider's answer."""
        parts = urlsplit(callback_url)
        return self.client.get(parts.path, query_string=parts.query)

    def sign_in(self, email: str | None, next: str | None = None, **person: Any) -> Any:
        """The whole dance for `email`; returns the app's answer to the callback."""
        self.provider.login_as(email, **person)
        return self.callback(self.authorize(self.start_sign_in(next)))

    # -- what the app thinks of us --------------------------------------------------------------
    def whoami(self) -> dict[str, Any] | None:
        """The signed-in user as the app sees them, or None when the app wants a sign-in."""
        response = self.client.get("/whoami")
        if response.status_code == 200:
            return response.get_json()
        assert response.status_code in (302, 303, 401), (response.status_code, response.text)
        return None

    @property
    def is_signed_in(self) -> bool:
        return self.whoami() is not None

    def csrf_token(self) -> str:
        response = self.client.get("/csrf")
        assert response.status_code == 200, response.status_code
        return response.get_data(as_text=True)

    @property
    def session_cookie_name(self) -> str:
        return self.site.app.config["SESSION_COOKIE_NAME"]

    def cookie(self, name: str | None = None) -> str | None:
        cookie = self.client.get_cookie(name or self.session_cookie_name)
        return cookie.value if cookie is not None else None

    def set_cookie(self, value: str, name: str | None = None) -> None:
        self.client.set_cookie(name or self.session_cookie_name, value, domain="localhost")


# -- the standard site ----------------------------------------------------------------------------
STANDARD = """
    from flask import jsonify, session
    from flask_login import current_user
    from flask_wtf.csrf import generate_csrf
    from sqlalchemy import Column, Integer, Unicode

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.ext.auth import AuthManager, public, roles_required
    from flasker.util import Model

    api = current_project.register_manager(APIManager(url_prefix="/api"))
    auth = current_project.register_manager(
        AuthManager(
            provider_name="testidp",
            server_metadata_url="{metadata_url}",
            client_id="{client_id}",
            client_secret="{client_secret}",
            scopes=["openid", "email", "profile"],
            authorized_emails=["{allowed}", "{admin}"],
            authorized_domains=["{domain}"],
            admins=["{admin}"],
        )
    )


    class {note}(Model):
        id = Column(Integer, primary_key=True)
        text = Column(Unicode(200), nullable=False)


    api.add_model({note})
    app = current_project.app


    @app.get("/")
    def home():
        return "home of " + current_user.email


    @app.get("/some/page")
    def some_page():
        return "some page"


    @app.route("/form", methods=["GET", "POST"])
    def form():
        return "form"


    @app.get("/items/<int:item_id>")
    def item(item_id):
        return f"item {{item_id}}"


    @app.get("/whoami")
    def whoami():
        return jsonify(email=current_user.email, role=current_user.role)


    @app.get("/csrf")
    def csrf():
        return generate_csrf()


    @app.get("/admin-only")
    @roles_required("admin")
    def admin_only():
        return "admins only"


    @app.get("/about")
    @public
    def about():
        return "about us"


    @app.get("/status")
    def status():
        return "status: listed in PUBLIC_ENDPOINTS"


    @app.get("/session/plant")
    @public
    def session_plant():
        session["planted"] = "by the visitor before sign-in"
        return "planted"


    @app.get("/session/read")
    @public
    def session_read():
        return session.get("planted", "")
"""

STANDARD_CFG = """
    [PROJECT]
    NAME = AuthTest
    MODULES = {module}
    DB_URL = sqlite:///{database}

    [APP]
    SECRET_KEY = {secret}

    [AUTH]
    PUBLIC_ENDPOINTS = status
"""

#: Endpoints of the standard site anyone may open.
STANDARD_PUBLIC = {"about", "status", "session_plant", "session_read"}


class SiteFiles:
    """A project written to a folder (not started): its cfg, and the client it is registered
    as at the provider."""

    def __init__(self, cfg: Path, module: str, client_id: str) -> None:
        self.cfg = cfg
        self.module = module
        self.client_id = client_id

    @property
    def database(self) -> Path:
        return self.cfg.parent / "site.sqlite"


@pytest.fixture(scope="session")
def write_site(
    oidc_provider: Any, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., SiteFiles]:
    """Factory: `write_site(source=STANDARD, cfg=STANDARD_CFG, **values)` writes a project whose
    one module is `source`, both formatted with the provider's URL, a fresh client (registered
    at the provider), the standard allow-lists and `values`."""

    def write(source: str = STANDARD, cfg: str = STANDARD_CFG, **values: Any) -> SiteFiles:
        module = unique("auth_site")
        client_id = unique("client")
        client_secret = uuid.uuid4().hex
        oidc_provider.register_client(client_id, client_secret)
        folder = tmp_path_factory.mktemp("auth_project")
        fields = {
            "module": module,
            "database": folder / "site.sqlite",
            "secret": SECRET_KEY,
            "metadata_url": oidc_provider.metadata_url,
            "client_id": client_id,
            "client_secret": client_secret,
            "allowed": ALLOWED_EMAIL,
            "admin": ADMIN_EMAIL,
            "domain": ALLOWED_DOMAIN,
            "note": "Note",
            **values,
        }
        cfg_path = write_project(folder, cfg.format(**fields), {module: source.format(**fields)})
        return SiteFiles(cfg_path, module, client_id)

    return write


@pytest.fixture(scope="module")
def make_site(
    oidc_provider: Any, write_site: Callable[..., SiteFiles]
) -> Iterator[Callable[..., AuthSite]]:
    """Factory: `make_site(source=STANDARD, cfg=STANDARD_CFG, **values)` writes a project (see
    `write_site`), starts it in this process and returns an `AuthSite`; what starting projects
    changed in the process is put back after the module."""
    made: list[Project] = []
    with auth_process_state():

        def make(source: str = STANDARD, cfg: str = STANDARD_CFG, **values: Any) -> AuthSite:
            files = write_site(source, cfg, **values)
            project = Project(files.cfg)
            made.append(project)
            project.start()
            return AuthSite(project, oidc_provider, files.client_id)

        try:
            yield make
        finally:
            for project in made:
                close_project(project)


@pytest.fixture(scope="module")
def standard_site(make_site: Callable[..., AuthSite]) -> AuthSite:
    return make_site()


@pytest.fixture
def site(standard_site: AuthSite, oidc: Any) -> AuthSite:
    """The standard site with an empty database and an honest provider."""
    standard_site.clear()
    return standard_site


@pytest.fixture
def visitor(site: AuthSite) -> Browser:
    """A fresh user agent on the standard site (not `browser`: pytest-playwright's name)."""
    return site.browser()
