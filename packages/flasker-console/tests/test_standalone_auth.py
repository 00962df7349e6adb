"""`flasker console --root DIR --auth CFG`: the standalone console behind flasker-auth.

The console's own cfg signs operators in through a real OpenID Connect provider (flasker-auth's
test provider, over real HTTP) or the one-time development link; `/` and every project's
console under `/p/<folder>/` then need a signed-in operator: viewers read, admins change.
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner
from werkzeug.test import Client

from flasker.cli import cli
from flasker_console.standalone import StandaloneConsole

AUTH_TESTS = Path(__file__).parents[2] / "flasker-auth" / "tests"
ADMIN = "root@admins.test"
VIEWER = "vic@viewers.test"
INVITED = "ivy@invited.test"
SECRET_KEY = "standalone-auth-tests-secret-0123456789"

SHOP_CFG = "[PROJECT]\nNAME = Shop\n"

HUB_CFG = """\
[PROJECT]
NAME = Ops console
DB_URL = sqlite:///{database}

[APP]
SECRET_KEY = ${{CONSOLE_TEST_SECRET}}

[AUTH]
PROVIDER = testidp
SERVER_METADATA_URL = {metadata_url}
CLIENT_ID = {client_id}
CLIENT_SECRET = {client_secret}
ADMINS = {admin}
AUTHORIZED_EMAILS = {viewer}
DEV_LOGIN = true
"""


@pytest.fixture(scope="module")
def provider(oidc_provider_module: Any) -> Iterator[Any]:
    yield from oidc_provider_module.running_provider()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("standalone_auth_root")
    (root / "shop").mkdir()
    (root / "shop" / "default.cfg").write_text(SHOP_CFG)
    return root


@pytest.fixture(scope="module")
def hub_cfg(tmp_path_factory: pytest.TempPathFactory, provider: Any) -> Path:
    folder = tmp_path_factory.mktemp("console_hub")
    client_id, client_secret = f"console_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    provider.register_client(client_id, client_secret)
    cfg = folder / "console.cfg"
    cfg.write_text(
        HUB_CFG.format(
            database=folder / "console.sqlite",
            metadata_url=provider.metadata_url,
            client_id=client_id,
            client_secret=client_secret,
            admin=ADMIN,
            viewer=VIEWER,
        )
    )
    return cfg


@pytest.fixture(scope="module")
def console(
    root: Path, hub_cfg: Path, process_state: Callable[[], Any]
) -> Iterator[StandaloneConsole]:
    with process_state(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONSOLE_TEST_SECRET", SECRET_KEY)
        app = StandaloneConsole(root, check_timeout=1.0, auth=hub_cfg)
        yield app
        app.close()


@pytest.fixture
def oidc(provider: Any) -> Iterator[Any]:
    provider.reset()
    yield provider
    errors = list(provider.errors)
    provider.reset()
    assert not errors, errors


def text(response: Any) -> str:
    return response.get_data(as_text=True)  # type: ignore[no-any-return]


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(console: StandaloneConsole, provider: Any, email: str, next: str = "/") -> Client:
    """A browser signed in through the provider (the redirect dance, the provider over HTTP)."""
    client = Client(console)
    provider.login_as(email)
    response = client.get("/auth/login", query_string={"next": next})
    assert response.status_code == 302, text(response)
    location = response.headers["Location"]
    assert location.startswith(provider.url + "/authorize?"), location
    answer = requests.get(location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == "/auth/callback", callback
    response = client.get(callback.path, query_string=callback.query)
    assert response.status_code == 302, text(response)
    assert response.headers["Location"] == next
    return client


def assert_sign_in_redirect(response: Any, path: str) -> None:
    assert response.status_code == 302, (response.status_code, text(response)[:300])
    location = urlsplit(response.headers["Location"])
    assert location.path == "/auth/login"
    assert parse_qs(location.query)["next"] == [path]
    assert "csrf_token" not in text(response)


# -- anonymous visitors --------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/", "/p/shop/", "/p/shop/config", "/p/shop/config/raw"])
def test_anonymous_visitors_are_sent_to_sign_in(console: StandaloneConsole, path: str) -> None:
    assert_sign_in_redirect(Client(console).get(path), path)


def test_anonymous_htmx_and_api_requests_get_401(console: StandaloneConsole) -> None:
    client = Client(console)
    response = client.get("/p/shop/status", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/auth/login?next=")
    response = client.get("/p/shop/", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_anonymous_visitors_learn_nothing_about_which_projects_exist(
    console: StandaloneConsole,
) -> None:
    assert_sign_in_redirect(Client(console).get("/p/nope/"), "/p/nope/")


def test_anonymous_posts_change_nothing(console: StandaloneConsole, root: Path) -> None:
    cfg = root / "shop" / "default.cfg"
    before = cfg.read_text()
    response = Client(console).post("/p/shop/config/raw", data={"text": "[PROJECT]\nNAME = X\n"})
    assert response.status_code == 302
    assert cfg.read_text() == before


def test_the_operator_environ_key_cannot_be_forged_by_a_client(console: StandaloneConsole) -> None:
    client = Client(console)
    response = client.get("/p/shop/", headers={"flasker_console.operator": "x"})
    assert response.status_code == 302


# -- admins --------------------------------------------------------------------------------
def test_an_admin_reads_and_changes_everywhere(
    console: StandaloneConsole, oidc: Any, root: Path
) -> None:
    client = sign_in(console, oidc, ADMIN, next="/p/shop/config")
    home = client.get("/")
    assert home.status_code == 200
    assert ADMIN in text(home)
    assert 'data-testid="no-auth"' not in text(home)
    assert 'href="/p/shop/"' in text(home)
    page = client.get("/p/shop/config")
    assert page.status_code == 200
    html = text(page)
    assert ADMIN in html
    assert "admin</span>" in html
    assert 'action="/auth/logout"' in html
    assert 'data-testid="read-only"' not in html
    raw = client.get("/p/shop/config/raw")
    assert raw.status_code == 200
    cfg = root / "shop" / "default.cfg"
    new = SHOP_CFG + "\n[APP]\nDEBUG = false\n"
    response = client.post(
        "/p/shop/config/raw",
        data={
            "csrf_token": token(text(raw)),
            "text": new,
            "base": base64.b64encode(cfg.read_bytes()).decode("ascii"),
            "action": "save",
        },
    )
    try:
        assert response.status_code in (200, 303), text(response)[:500]
        assert cfg.read_text() == new
    finally:
        cfg.write_text(SHOP_CFG)


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["origin", "sec-fetch-site"],
)
def test_a_change_sent_by_another_site_is_refused(
    console: StandaloneConsole, oidc: Any, root: Path, headers: dict[str, str]
) -> None:
    """Regression (issue 10): a signed-in admin's valid save, posted by a page of another
    site, was applied (the console checked Origin only over HTTPS); the hub refuses it."""
    client = sign_in(console, oidc, ADMIN)
    cfg = root / "shop" / "default.cfg"
    raw = client.get("/p/shop/config/raw")
    form = {
        "csrf_token": token(text(raw)),
        "text": SHOP_CFG + "\n[APP]\nDEBUG = true\n",
        "base": base64.b64encode(cfg.read_bytes()).decode("ascii"),
        "action": "save",
    }
    response = client.post("/p/shop/config/raw", data=form, headers=headers)
    assert response.status_code == 403, text(response)[:300]
    assert "another site" in text(response)
    assert cfg.read_text() == SHOP_CFG
    new_project = {"csrf_token": form["csrf_token"], "folder": "evil", "template": "api"}
    assert client.post("/", data=new_project, headers=headers).status_code == 403
    assert not (root / "evil").exists()
    same_site = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/p/shop/config/raw", data=form, headers=same_site)
    try:
        assert response.status_code in (200, 303), text(response)[:300]
        assert cfg.read_text() == form["text"]
    finally:
        cfg.write_text(SHOP_CFG)


def test_the_development_link_signs_in_a_local_admin(
    console: StandaloneConsole, capsys: pytest.CaptureFixture[str]
) -> None:
    assert console.hub is not None
    capsys.readouterr()
    console.hub.on_serve("127.0.0.1", 5050)
    printed = capsys.readouterr()
    links = re.findall(r"http://127\.0\.0\.1:5050(/auth/dev/[A-Za-z0-9_\-]+)", printed.err)
    assert len(links) == 1, printed
    client = Client(console)
    response = client.get(links[0], environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 302
    page = client.get("/p/shop/")
    assert page.status_code == 200
    assert "admin@localhost" in text(page)
    again = Client(console).get(links[0], environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert again.status_code == 404  # once only
    console.hub.on_serve("0.0.0.0", 5050)  # off loopback: no link, and the old one is dead
    assert "/auth/dev/" not in capsys.readouterr().err
    assert client.get("/p/shop/").status_code == 302


# -- viewers -------------------------------------------------------------------------------
def invite(console: StandaloneConsole, email: str, role: str) -> None:
    """What `flasker auth user add EMAIL --role ROLE` does, through flasker-auth's API."""
    from flasker_auth.models import utcnow

    assert console.hub is not None
    auth = console.hub.auth
    with console.hub.app.app_context():
        session = auth.db_session()
        session.add(auth.models.User(email=email, role=role, invited=True, created=utcnow()))
        session.commit()


def test_an_invited_viewer_signs_in_and_reads(console: StandaloneConsole, oidc: Any) -> None:
    invite(console, INVITED, "viewer")
    client = sign_in(console, oidc, INVITED, next="/p/shop/config")
    page = client.get("/p/shop/config")
    assert page.status_code == 200
    assert INVITED in text(page)
    assert 'data-testid="read-only"' in text(page)


def test_someone_not_allowed_cannot_sign_in(console: StandaloneConsole, oidc: Any) -> None:
    client = Client(console)
    oidc.login_as("mallory@nowhere.test")
    location = client.get("/auth/login", query_string={"next": "/p/shop/"}).headers["Location"]
    answer = requests.get(location, allow_redirects=False, timeout=10)
    callback = urlsplit(answer.headers["Location"])
    assert client.get(callback.path, query_string=callback.query).status_code == 403
    assert client.get("/p/shop/").status_code == 302


def test_a_viewer_reads_but_cannot_change(
    console: StandaloneConsole, oidc: Any, root: Path
) -> None:
    client = sign_in(console, oidc, VIEWER)
    home = client.get("/")
    assert home.status_code == 200
    assert VIEWER in text(home)
    assert 'data-testid="read-only"' in text(home)
    cfg = root / "shop" / "default.cfg"
    before = cfg.read_text()
    for path in ("/p/shop/", "/p/shop/config", "/p/shop/tasks"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert VIEWER in text(page)
        assert 'data-testid="read-only"' in text(page)
    csrf = token(text(client.get("/p/shop/config/raw")))
    response = client.post(
        "/p/shop/config/raw",
        data={
            "csrf_token": csrf,
            "text": "[PROJECT]\nNAME = Hacked\n",
            "base": base64.b64encode(cfg.read_bytes()).decode("ascii"),
            "action": "save",
        },
    )
    assert response.status_code == 403
    response = client.post(
        "/p/shop/tasks", data={"csrf_token": csrf, "name": "x"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    response = client.post("/", data={"csrf_token": csrf, "folder": "evil", "template": "api"})
    assert response.status_code == 403
    assert cfg.read_text() == before
    assert not (root / "evil").exists()


# -- signing out ---------------------------------------------------------------------------
def test_signing_out_from_a_projects_console_ends_access_everywhere(
    console: StandaloneConsole, oidc: Any
) -> None:
    client = sign_in(console, oidc, ADMIN)
    html = text(client.get("/p/shop/"))  # its CSRF token goes into the shared session
    assert 'action="/auth/logout"' in html
    home = client.get("/")  # the project app saving the session kept the hub's sign-in
    assert home.status_code == 200
    assert ADMIN in text(home)
    assert token(text(home)).split(".")[0] == token(html).split(".")[0]  # one raw token
    response = client.post("/auth/logout", data={"csrf_token": token(html)})
    assert response.status_code == 200, text(response)[:300]
    assert_sign_in_redirect(client.get("/p/shop/"), "/p/shop/")
    assert_sign_in_redirect(client.get("/"), "/")


def test_other_host_names_are_refused(console: StandaloneConsole) -> None:
    assert Client(console).get("/", headers={"Host": "evil.example"}).status_code == 400
    assert Client(console).get("/p/shop/", headers={"Host": "evil.example"}).status_code == 400


# -- the command line ----------------------------------------------------------------------
@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    from flasker_console import cli as console_cli

    served: list[tuple[str, int]] = []
    monkeypatch.setattr(console_cli, "_run", lambda app, host, port: served.append((host, port)))
    return served


def test_cli_accepts_any_host_with_auth_and_an_external_url(
    root: Path,
    hub_cfg: Path,
    tmp_path: Path,
    no_serving: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    process_state: Callable[[], Any],
) -> None:
    monkeypatch.setenv("CONSOLE_TEST_SECRET", SECRET_KEY)
    cfg = tmp_path / "console.cfg"
    text_ = hub_cfg.read_text().replace("DEV_LOGIN = true", "EXTERNAL_URL = https://ops.test")
    cfg.write_text(text_)
    with process_state():
        args = ["console", "--root", str(root), "--auth", str(cfg), "--host", "0.0.0.0"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert no_serving == [("0.0.0.0", 5050)]
    assert "/auth/dev/" not in result.output


def test_cli_refuses_a_public_host_without_an_address_for_the_callback(
    root: Path,
    hub_cfg: Path,
    no_serving: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    process_state: Callable[[], Any],
) -> None:
    monkeypatch.setenv("CONSOLE_TEST_SECRET", SECRET_KEY)
    with process_state():
        args = ["console", "--root", str(root), "--auth", str(hub_cfg), "--host", "0.0.0.0"]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "EXTERNAL_URL" in result.output
    assert no_serving == []


def test_the_hubs_users_are_managed_with_flasker_auths_cli(
    hub_cfg: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    process_state: Callable[[], Any],
) -> None:
    # the console's cfg registers no AuthManager in code (it has no MODULES): its [AUTH] is
    # the setup, so `flasker -c console.cfg auth user ...` works on the hub's users
    monkeypatch.setenv("CONSOLE_TEST_SECRET", SECRET_KEY)
    cfg = tmp_path / "console.cfg"  # a copy with a database of its own
    cfg.write_text(
        re.sub(
            r"(?m)^DB_URL = .*$",
            f"DB_URL = sqlite:///{tmp_path / 'users.sqlite'}",
            hub_cfg.read_text(),
        )
    )
    with process_state():
        added = CliRunner().invoke(
            cli, ["-c", str(cfg), "auth", "user", "add", "bob@ops.test", "--role", "viewer"]
        )
    assert added.exit_code == 0, added.output
    with process_state():
        listing = CliRunner().invoke(cli, ["-c", str(cfg), "auth", "user", "list"])
    assert listing.exit_code == 0, listing.output
    assert "bob@ops.test" in listing.output
    assert "viewer" in listing.output


def test_cli_refuses_auth_without_a_secret_key(
    root: Path,
    hub_cfg: Path,
    no_serving: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
    process_state: Callable[[], Any],
) -> None:
    monkeypatch.delenv("CONSOLE_TEST_SECRET", raising=False)
    with process_state():
        result = CliRunner().invoke(cli, ["console", "--root", str(root), "--auth", str(hub_cfg)])
    assert result.exit_code != 0
    assert "CONSOLE_TEST_SECRET" in result.output or "SECRET_KEY" in result.output
    assert no_serving == []


def test_cli_still_refuses_a_public_host_without_auth(
    root: Path, no_serving: list[tuple[str, int]]
) -> None:
    result = CliRunner().invoke(cli, ["console", "--root", str(root), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "--auth" in result.output
    assert no_serving == []


# -- a Prometheus scraper's metrics token ----------------------------------------------------
def hub_token(console: StandaloneConsole, email: str, role: str, scopes: str) -> str:
    """A token as `flasker -c console.cfg auth token create` makes it, for a hub user."""
    from flasker_auth.tokens import create_token

    assert console.hub is not None
    auth = console.hub.auth
    with console.hub.app.app_context():
        user = auth.find_user(email) or auth.record_sign_in(email)
        user.role = role
        made, _record = create_token(auth.db_session(), auth.models, user, [scopes], None)
        auth.db_session().commit()
    return made


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def test_a_metrics_token_of_a_hub_admin_reads_a_projects_metrics(
    console: StandaloneConsole,
) -> None:
    made = hub_token(console, ADMIN, "admin", "metrics:read")
    scraper = Client(console, use_cookies=False)
    response = scraper.get("/p/shop/metrics", headers=bearer(made))
    assert response.status_code == 200, text(response)[:300]
    assert response.mimetype == "text/plain"
    assert "flasker_console_workers_online" in text(response)
    assert "Set-Cookie" not in response.headers  # signed in for this request only
    # the token opens no other page of the console, nor the hub's projects page
    for path in ("/p/shop/", "/p/shop/config", "/p/shop/workers", "/"):
        other = scraper.get(path, headers=bearer(made))
        assert other.status_code == 302, (path, other.status_code)
        assert other.headers["Location"].startswith("/auth/login"), path
    # without a token a scraper is anonymous
    assert scraper.get("/p/shop/metrics").status_code == 302


def test_hub_metrics_tokens_are_refused_as_in_a_project(console: StandaloneConsole) -> None:
    scraper = Client(console, use_cookies=False)
    viewer = hub_token(console, VIEWER, "viewer", "metrics:read")
    api = hub_token(console, ADMIN, "admin", "api:read")
    refused = {
        "a viewer's": (scraper.get("/p/shop/metrics", headers=bearer(viewer)), 403),
        "api:read": (scraper.get("/p/shop/metrics", headers=bearer(api)), 403),
        "unknown": (scraper.get("/p/shop/metrics", headers=bearer("nope")), 401),
        # a folder without a project answers as one with: no refusal tells which exist
        "unknown, no such project": (scraper.get("/p/nope/metrics", headers=bearer("x")), 401),
    }
    for what, (response, status) in refused.items():
        assert response.status_code == status, (what, text(response)[:300])
        assert response.mimetype == "application/problem+json", what
        assert "flasker_console" not in text(response), what
    assert "lacks the metrics:read scope" in text(refused["api:read"][0])
    assert "works only for an admin" in text(refused["a viewer's"][0])
