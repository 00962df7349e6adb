"""The redirect URI sent to the provider never comes from an untrusted Host header.

`GET /auth/login` with `Host: evil.example` must not send `redirect_uri=http://evil.example/…`
(a provider that accepts it, or a cache that keeps the redirect, would hand codes to the
attacker). The callback URL is built on `[AUTH] EXTERNAL_URL` when set; otherwise on the
request, but only for a Host in TRUSTED_HOSTS, equal to SERVER_NAME, or, with neither
configured, a loopback name. `flasker server --prod` refuses to start with a provider and none
of the three."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flasker.manager import ServeInfo
from flasker.testing import LiveServer, ServerFailed

CFG = """
    [PROJECT]
    NAME = AuthTest
    MODULES = {module}
    DB_URL = sqlite:///{database}

    [APP]
    SECRET_KEY = {secret}
    {app_extra}

    [AUTH]
    {auth_extra}
"""

EVIL = "evil.example"


def sites_for(make_site: Any) -> dict[str, Any]:
    settings = {
        "nothing": ("", ""),
        "external": ("", "EXTERNAL_URL = https://houses.example.com/"),
        "external_local": ("", "EXTERNAL_URL = http://localhost"),
        "external_prefix": ("", "EXTERNAL_URL = https://example.org/houses"),
        "trusted": ("TRUSTED_HOSTS = houses.example.com, localhost", ""),
        "server_name": ("SERVER_NAME = houses.example.com", ""),
    }
    return {
        name: make_site(cfg=CFG, app_extra=app, auth_extra=auth, note=f"Note{i}")
        for i, (name, (app, auth)) in enumerate(settings.items())
    }


@pytest.fixture(scope="module")
def sites(make_site: Any) -> dict[str, Any]:
    return sites_for(make_site)


@pytest.fixture
def fresh(sites: dict[str, Any], oidc: Any) -> dict[str, Any]:
    for site in sites.values():
        site.clear()
    return sites


def login(site: Any, host: str | None = None, **environ: Any) -> Any:
    headers = {"Host": host} if host else {}
    return site.browser().get("/auth/login", headers=headers, environ_base=environ)


def redirect_uri(response: Any) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text)
    (uri,) = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"]
    return uri


def assert_refused(response: Any) -> None:
    assert response.status_code == 400, (response.status_code, response.text)
    assert "Location" not in response.headers
    assert EVIL not in response.text or "not trusted" in response.text


# -- nothing configured: loopback names only ------------------------------------------------------
def test_an_untrusted_host_gets_no_redirect(fresh: dict[str, Any]) -> None:
    response = login(fresh["nothing"], EVIL)
    assert_refused(response)
    assert "EXTERNAL_URL" in response.text


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:5000", "127.0.0.1:8000", "127.0.0.2:8000", "[::1]:5000"]
)
def test_loopback_hosts_are_used_during_development(fresh: dict[str, Any], host: str) -> None:
    assert redirect_uri(login(fresh["nothing"], host)) == f"http://{host}/auth/callback"


@pytest.mark.parametrize(
    "host", ["localhost.evil.example", "127.0.0.1.evil.example", "evil.example:80@localhost"]
)
def test_look_alike_hosts_are_refused(fresh: dict[str, Any], host: str) -> None:
    assert login(fresh["nothing"], host).status_code == 400


# -- EXTERNAL_URL ---------------------------------------------------------------------------------
def test_external_url_wins_over_any_host(fresh: dict[str, Any]) -> None:
    expected = "https://houses.example.com/auth/callback"
    assert redirect_uri(login(fresh["external"], EVIL)) == expected
    assert redirect_uri(login(fresh["external"], "localhost")) == expected


def test_external_url_with_a_path_under_a_script_root(fresh: dict[str, Any]) -> None:
    site = fresh["external_prefix"]
    plain = redirect_uri(login(site, EVIL))
    assert plain == "https://example.org/houses/auth/callback"
    mounted = site.browser().get("/auth/login", environ_base={"SCRIPT_NAME": "/houses"})
    assert redirect_uri(mounted) == plain


def test_a_whole_sign_in_through_external_url(fresh: dict[str, Any]) -> None:
    """The provider sends the browser back to EXTERNAL_URL, and the sign-in completes there
    (the authorization code is exchanged with the same redirect URI)."""
    site = fresh["external_local"]
    visitor = site.browser()
    site.provider.login_as(site.allowed_email)
    started = visitor.get("/auth/login")
    assert redirect_uri(started) == "http://localhost/auth/callback"
    answer = visitor.callback(visitor.authorize(started.headers["Location"]))
    assert answer.status_code in (302, 303), answer.text
    assert visitor.whoami() == {"email": site.allowed_email, "role": "viewer"}


@pytest.mark.parametrize(
    "value",
    [
        "houses.example.com",
        "ftp://houses.example.com",
        "https://",
        "https://houses.example.com/?next=x",
        "https://houses.example.com/#top",
        "https://user:pw@houses.example.com",
        "https://houses.example.com:notaport",
    ],
)
def test_a_bad_external_url_stops_the_start(make_site: Any, value: str) -> None:
    from flasker.exceptions import FlaskerError

    with pytest.raises(FlaskerError, match="EXTERNAL_URL"):
        make_site(
            cfg=CFG,
            app_extra="",
            auth_extra=f"EXTERNAL_URL = {value}",
            note=f"Bad{secrets.token_hex(4)}",
        )


# -- TRUSTED_HOSTS and SERVER_NAME ----------------------------------------------------------------
def test_trusted_hosts(fresh: dict[str, Any]) -> None:
    site = fresh["trusted"]
    assert login(site, EVIL).status_code == 400  # Flask itself refuses the Host
    expected = "http://houses.example.com/auth/callback"
    assert redirect_uri(login(site, "houses.example.com")) == expected


def test_server_name(fresh: dict[str, Any]) -> None:
    site = fresh["server_name"]
    assert_refused(login(site, EVIL))
    expected = "http://houses.example.com/auth/callback"
    assert redirect_uri(login(site, "houses.example.com")) == expected


# -- flasker server --prod ------------------------------------------------------------------------
def serve_prod(site: Any) -> None:
    info = ServeInfo(host="127.0.0.1", port=8000, debug=False, prod=True)
    for manager in site.project.managers:
        manager.on_serve(site.project, info)


def test_prod_needs_the_sites_address(fresh: dict[str, Any]) -> None:
    from flasker_auth import AuthSetupError

    with pytest.raises(AuthSetupError, match="EXTERNAL_URL") as refused:
        serve_prod(fresh["nothing"])
    assert str(fresh["nothing"].cfg) in str(refused.value)
    for name in ("external", "trusted", "server_name"):
        serve_prod(fresh[name])


@pytest.mark.slow
def test_flasker_server_prod_refuses_to_start_without_the_sites_address(write_site: Any) -> None:
    files = write_site(cfg=CFG, app_extra="", auth_extra="", note="NoteServed")
    server = LiveServer(files.cfg, "--prod", "--workers", "1", "--no-worker")
    with pytest.raises(ServerFailed) as failed:
        server.start()
    output = str(failed.value)
    assert "EXTERNAL_URL" in output
    assert "Traceback" not in output
