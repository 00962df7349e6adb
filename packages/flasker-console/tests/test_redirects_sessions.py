"""Open redirects, token replay and session fixation on the bundled example.

Every redirect of the product whose target a client can influence:

- `next=` of `/auth/login`, followed after the provider's callback, and at once when the
  visitor is already signed in;
- the guard's sign-in redirect (and the `HX-Redirect` of an htmx request), whose `next` is
  the path the visitor asked for;
- the standalone console's `/p/<folder>` → `/p/<folder>/`.

(Every other redirect is built by `url_for` from fixed endpoints; the route walk asserts that
each 3xx it meets stays on the site.) flasker-auth's own `test_safety.py` covers `safe_next`.

Then a token that worked is refused at once after `flasker auth token revoke` (through the
CLI), and a session cookie from before sign-in is never the signed-in session.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from werkzeug.test import Client

OFF_SITE = [
    "//evil.example",
    "//evil.example/path",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\\/evil.example",
    "///evil.example",
    "////evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "%2F%2Fevil.example",
    "%2f%2fevil.example",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "/\x00/evil.example",
    "http://127.0.0.1@evil.example",
    "http://localhost@evil.example/",
    "//localhost@evil.example",
    "http://evil.example\\@localhost/",
    "http:\\\\evil.example",
    "/\u3002evil.example",
    "//evil%2Eexample",
]


def on_site(location: str) -> str | None:
    """Why a browser following `location` (a Location or HX-Redirect header) would leave the
    site (http://localhost, the test client's), or None when it stays."""
    parts = urlsplit(location)
    if parts.scheme not in ("", "http") or parts.netloc not in ("", "localhost"):
        return f"it names another origin ({parts.scheme}://{parts.netloc})"
    if not parts.path.startswith("/") or parts.path.startswith("//"):
        return "its path is not an absolute path on this site"
    if "\\" in location or any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
        return "it holds a backslash or a control character"
    if unquote(parts.path).startswith(("//", "/\\")):
        return "its path decodes to a scheme-relative URL"
    return None


def assert_on_site(location: str) -> None:
    problem = on_site(location)
    assert problem is None, f"{location!r}: {problem}"


def wsgi_path(path: str) -> dict[str, str]:
    """The environ a server gives for a request line with `path` as is (the test client would
    parse `//host` as a host): WSGI's PATH_INFO is the UTF-8 bytes read as latin-1."""
    raw = path.encode("utf-8").decode("latin-1")
    path_info, _, query = raw.partition("?")
    return {"PATH_INFO": path_info, "QUERY_STRING": query, "REQUEST_URI": raw, "RAW_URI": raw}


@pytest.fixture(scope="module")
def admin(houses: Any) -> Any:
    return houses.browser(houses.admin)


# -- next= ------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", OFF_SITE)
def test_next_after_sign_in_never_leaves_the_site(houses: Any, target: str) -> None:
    client = houses.browser()
    response = houses.sign_in(client, houses.viewer, next=target)
    assert response.status_code == 302, response.text[:300]
    assert_on_site(response.headers["Location"])
    assert client.get("/console/").status_code == 200  # signed in all the same


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_when_already_signed_in_never_leaves_the_site(admin: Any, target: str) -> None:
    response = admin.get("/auth/login", query_string={"next": target})
    assert response.status_code == 302
    assert_on_site(response.headers["Location"])


@pytest.mark.parametrize("target", ["/console/tasks?sent=1", "/api/houses/?page=2", "/"])
def test_an_on_site_next_is_honoured(houses: Any, target: str) -> None:
    """The control: a path on the site is where the sign-in lands."""
    response = houses.sign_in(houses.browser(), houses.viewer, next=target)
    assert response.headers["Location"] == target


# -- the guard's sign-in redirect ---------------------------------------------------------------
#: Request paths that reach a closed page, crafted so their `next` would leave the site if it
#: were copied as is (merged slashes, a query holding a URL, an encoded CRLF).
GUARD_PATHS = [
    "//console/",
    "///console/",
    "/console//",
    "//console/?a=//evil.example",
    "/console/?next=https://evil.example",
    "/console/?x=%0d%0aLocation:%20https://evil.example",
    "/console/?x=\\evil.example",
    "/console/tasks?sent=//evil.example",
    f"/tasks/{uuid.UUID(int=1)}?back=javascript:alert(1)",
]


@pytest.mark.parametrize("path", GUARD_PATHS)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_the_sign_in_redirect_never_points_off_site(houses: Any, path: str, htmx: bool) -> None:
    """An anonymous request for a crafted path: its sign-in link's `next`, and where the
    sign-in then lands, stay on the site."""
    client = houses.browser()
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.get("/", headers=headers, environ_overrides=wsgi_path(path))
    if response.status_code == 308:  # Werkzeug merging slashes: to the same site
        assert_on_site(response.headers["Location"])
        return
    assert response.status_code == (401 if htmx else 302), response.status_code
    login = response.headers["HX-Redirect" if htmx else "Location"]
    assert_on_site(login)
    assert urlsplit(login).path == "/auth/login"
    (target,) = parse_qs(urlsplit(login).query)["next"]
    assert_on_site(target)
    landed = houses.sign_in(client, houses.viewer, next=target)
    assert_on_site(landed.headers["Location"])


@pytest.mark.parametrize("path", [t for t in OFF_SITE if t.startswith(("/", "\\"))])
def test_a_crafted_path_that_names_no_page_is_a_plain_404(houses: Any, path: str) -> None:
    response = houses.browser().get("/", environ_overrides=wsgi_path(path))
    assert response.status_code in (404, 308), response.status_code
    if response.status_code == 308:
        assert_on_site(response.headers["Location"])


# -- the standalone console ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory, process_state: Any) -> Iterator[Client]:
    from flasker_console.standalone import StandaloneConsole

    root = tmp_path_factory.mktemp("redirect_root")
    (root / "shop").mkdir()
    (root / "shop" / "default.cfg").write_text("[PROJECT]\nNAME = Shop\n")
    with process_state():
        app = StandaloneConsole(root, check_timeout=1.0)
        yield Client(app)
        app.close()


@pytest.mark.parametrize("slug", ["shop", *(t.lstrip("/") for t in OFF_SITE)])
def test_the_standalone_consoles_folder_redirect_stays_on_site(
    standalone: Client, slug: str
) -> None:
    path = "/p/" + slug
    response = standalone.get("/", environ_overrides=wsgi_path(path))
    assert response.status_code < 500
    if 300 <= response.status_code < 400:
        assert_on_site(response.headers["Location"])
        assert response.headers["Location"].startswith("/p/")
    if slug == "shop":
        assert response.headers["Location"] == "/p/shop/"


# -- API tokens --------------------------------------------------------------------------------
def test_a_revoked_token_is_refused_at_once(houses: Any) -> None:
    houses.cli("auth", "user", "add", "robot@houses.test", "--role", "admin")
    created = houses.cli(
        "auth", "token", "create", "--email", "robot@houses.test", "--scopes", "api:read,api:write"
    )
    token = created.stdout.splitlines()[0].strip()
    (token_id,) = re.findall(r"^token (\d+) ", created.stderr, re.MULTILINE)
    robot = houses.app.test_client()
    robot.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert robot.get("/api/houses/").status_code == 200
    made = robot.post("/api/houses/", json={"address": "1 Token Lane"})
    assert made.status_code == 201, made.text

    houses.cli("auth", "token", "revoke", token_id)
    before = houses.state()
    for method, json in (("GET", None), ("POST", {"address": "2 Replay Road"}), ("DELETE", None)):
        path = "/api/houses/" if method != "DELETE" else made.headers["Location"]
        response = robot.open(path, method=method, json=json)
        assert response.status_code == 401, (method, response.status_code)
        assert response.mimetype == "application/problem+json"
        assert "revoked" in response.get_json()["detail"]
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert houses.state() == before


# -- sessions ----------------------------------------------------------------------------------
def session_cookie(houses: Any, client: Any) -> str | None:
    cookie = client.get_cookie(houses.app.config["SESSION_COOKIE_NAME"])
    return cookie.value if cookie is not None else None


def test_a_session_from_before_sign_in_is_never_signed_in(houses: Any) -> None:
    """Fixation: whoever holds (or planted) the cookie a visitor had before signing in gets
    nothing: the sign-in issues a new session, and the old cookie stays anonymous."""
    victim = houses.browser()
    victim.get("/auth/login", query_string={"next": "/console/"})  # sets the pre-sign-in session
    planted = session_cookie(houses, victim)
    assert planted is not None
    response = houses.sign_in(victim, houses.admin, next="/console/")
    assert response.status_code == 302
    signed_in = session_cookie(houses, victim)
    assert signed_in is not None
    assert signed_in != planted
    assert victim.get("/console/").status_code == 200

    attacker = houses.browser()
    attacker.set_cookie(houses.app.config["SESSION_COOKIE_NAME"], planted, domain="localhost")
    refused = attacker.get("/console/")
    assert refused.status_code == 302
    assert urlsplit(refused.headers["Location"]).path == "/auth/login"
    assert attacker.get("/api/houses/").status_code == 401


def test_a_signed_in_cookie_is_worthless_after_sign_out(houses: Any) -> None:
    """Replay: a copy of the signed-in cookie stops working when its owner signs out."""
    owner = houses.browser(houses.viewer)
    copy = houses.browser()
    copy.set_cookie(
        houses.app.config["SESSION_COOKIE_NAME"], session_cookie(houses, owner), domain="localhost"
    )
    assert copy.get("/console/").status_code == 200
    token = houses.csrf_token(owner)
    assert owner.post("/auth/logout", data={"csrf_token": token}).status_code == 200
    assert copy.get("/console/").status_code == 302
    assert copy.get("/api/houses/").status_code == 401
