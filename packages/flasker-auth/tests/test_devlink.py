"""The one-time development sign-in link: printed by `flasker server` on loopback only (with
`--debug` under DEV_LOGIN = auto, the default; always under DEV_LOGIN = true; never under
false), single use, ten minutes, never off-loopback nor in `--prod`.

The serving decisions are checked in-process through `Manager.on_serve` (what `flasker server`
calls), and end to end with real `flasker server` processes (`LiveServer`, marked slow)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from flasker.manager import ServeInfo
from flasker.testing import LiveServer

DEV_EMAIL = "admin@localhost"
LINK = re.compile(r"https?://\S+/auth/dev/[A-Za-z0-9_\-]+")

#: The standard site, with the trusted hosts `--prod` needs once a provider is configured,
#: and DEV_LOGIN as each test wants it.
DEV_CFG = """
    [PROJECT]
    NAME = AuthTest
    MODULES = {module}
    DB_URL = sqlite:///{database}

    [APP]
    SECRET_KEY = {secret}
    TRUSTED_HOSTS = 127.0.0.1, localhost

    [AUTH]
    PUBLIC_ENDPOINTS = status
    {dev_login}
"""


@pytest.fixture(scope="module")
def dev_site(make_site: Any) -> Any:
    return make_site(cfg=DEV_CFG, dev_login="")


@pytest.fixture
def site(dev_site: Any, oidc: Any) -> Any:
    dev_site.clear()
    serve(dev_site, prod=True)  # off: each test turns serving on as it needs
    return dev_site


def serve(site: Any, host: str = "127.0.0.1", *, debug: bool = False, prod: bool = False) -> None:
    """What `flasker server` does just before it serves: tell every manager."""
    info = ServeInfo(host=host, port=5000, debug=debug, prod=prod)
    for manager in site.project.managers:
        manager.on_serve(site.project, info)


def printed_link(site: Any, capsys: pytest.CaptureFixture[str], **serving: Any) -> str | None:
    capsys.readouterr()
    serve(site, **serving)
    out = capsys.readouterr()
    found = LINK.findall(out.out + out.err)
    assert len(found) <= 1, found
    return found[0] if found else None


def use(site: Any, link: str, **kw: Any) -> tuple[Any, Any]:
    visitor = site.browser()
    return visitor, visitor.get(urlsplit(link).path, **kw)


def assert_refused(visitor: Any, response: Any) -> None:
    assert response.status_code in (400, 403, 404, 410), (response.status_code, response.text)
    assert not visitor.is_signed_in


def test_debug_on_loopback_prints_a_link_that_works_once(
    site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    link = printed_link(site, capsys, debug=True)
    assert link is not None
    assert urlsplit(link).hostname == "127.0.0.1"
    visitor, response = use(site, link)
    assert response.status_code in (302, 303), response.text
    assert visitor.whoami() == {"email": DEV_EMAIL, "role": "admin"}
    assert visitor.get("/admin-only").status_code == 200

    again, response = use(site, link)
    assert_refused(again, response)


def test_each_serve_prints_a_new_link(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    first = printed_link(site, capsys, debug=True)
    second = printed_link(site, capsys, debug=True)
    assert first is not None
    assert second is not None
    assert first != second


def test_a_link_expires_after_ten_minutes(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    link = printed_link(site, capsys, debug=True)
    assert link is not None
    (row,) = site.rows("flasker_sign_in_links")
    lifetime = row["expires"] - row["created"]
    assert dt.timedelta(minutes=9) < lifetime <= dt.timedelta(minutes=10, seconds=1)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    site.update("flasker_sign_in_links", {"expires": past}, id=row["id"])
    visitor, response = use(site, link)
    assert_refused(visitor, response)


def test_only_a_hash_of_the_link_is_stored(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    link = printed_link(site, capsys, debug=True)
    assert link is not None
    secret = urlsplit(link).path.rsplit("/", 1)[1]
    (row,) = site.rows("flasker_sign_in_links")
    assert all(secret not in str(value) for value in row.values())


@pytest.mark.parametrize(
    "serving",
    [
        {"host": "0.0.0.0", "debug": True},
        {"host": "192.168.1.10", "debug": True},
        {"host": "::", "debug": True},
        {"host": "127.0.0.1", "prod": True},
        {"host": "127.0.0.1", "debug": False},
    ],
    ids=["all interfaces", "lan address", "all ipv6", "prod", "no debug"],
)
def test_no_link_and_no_route_unless_debug_on_loopback(
    site: Any, capsys: pytest.CaptureFixture[str], serving: dict[str, Any]
) -> None:
    earlier = printed_link(site, capsys, debug=True)  # a link from a local debug run
    assert earlier is not None
    assert printed_link(site, capsys, **serving) is None
    visitor, response = use(site, earlier)
    assert response.status_code == 404, response.status_code
    assert not visitor.is_signed_in
    assert site.rows("flasker_sign_in_links")[-1]["used"] is None


def test_the_local_admin_loses_access_when_serving_stops_being_local(
    site: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    link = printed_link(site, capsys, debug=True)
    assert link is not None
    visitor, _response = use(site, link)
    assert visitor.is_signed_in
    serve(site, host="0.0.0.0", debug=True)
    assert not visitor.is_signed_in


@pytest.mark.parametrize(
    "request_from",
    [
        {"environ_base": {"REMOTE_ADDR": "10.0.0.7"}},
        {"headers": {"X-Forwarded-For": "203.0.113.9"}},
    ],
    ids=["remote address", "through a proxy"],
)
def test_the_link_only_works_from_loopback(
    site: Any, capsys: pytest.CaptureFixture[str], request_from: dict[str, Any]
) -> None:
    link = printed_link(site, capsys, debug=True)
    assert link is not None
    visitor, response = use(site, link, **request_from)
    assert_refused(visitor, response)


@pytest.mark.parametrize("secret", ["x", "A" * 43, "A" * 5000, "%00", "..%2f..%2fetc"])
def test_guessed_links_are_refused(
    site: Any, capsys: pytest.CaptureFixture[str], secret: str
) -> None:
    assert printed_link(site, capsys, debug=True) is not None
    visitor = site.browser()
    response = visitor.get("/auth/dev/" + secret)
    assert_refused(visitor, response)


# -- end to end: real `flasker server` processes ---------------------------------------------------
@pytest.fixture(scope="module")
def served_cfg(write_site: Any) -> Any:
    return write_site(cfg=DEV_CFG, dev_login="").cfg


def _link_in(output: str) -> str | None:
    found = LINK.findall(output)
    return found[-1] if found else None


@pytest.mark.slow
def test_flasker_server_debug_prints_a_working_one_time_link(served_cfg: Any) -> None:
    with LiveServer(
        served_cfg, "--debug", "--no-worker", log=served_cfg.parent / "debug.log"
    ) as server:
        link = _link_in(server.output())
        assert link is not None, server.output()
        assert urlsplit(link).port == server.port
        browser = requests.Session()
        first = browser.get(link, allow_redirects=False, timeout=10)
        assert first.status_code in (302, 303), first.text
        home = browser.get(server.url + "/", allow_redirects=False, timeout=10)
        assert home.status_code == 200, home.text
        assert DEV_EMAIL in home.text

        second = requests.get(link, allow_redirects=False, timeout=10)
        assert second.status_code in (400, 403, 404, 410), second.status_code
        anonymous = requests.Session()
        anonymous.cookies.update(second.cookies)
        assert anonymous.get(server.url + "/", allow_redirects=False, timeout=10).status_code in (
            302,
            303,
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [("--debug", "--host", "0.0.0.0"), ("--prod", "--workers", "1")],
    ids=["off loopback", "prod"],
)
def test_flasker_server_prints_no_link_off_loopback_or_in_prod(
    served_cfg: Any, args: tuple[str, ...]
) -> None:
    log = served_cfg.parent / f"server-{secrets.token_hex(4)}.log"
    with LiveServer(served_cfg, *args, "--no-worker", log=log) as server:
        assert _link_in(server.output()) is None, server.output()
        guessed = requests.get(
            f"{server.url}/auth/dev/{secrets.token_urlsafe(32)}", allow_redirects=False, timeout=10
        )
        assert guessed.status_code == 404


# -- DEV_LOGIN: auto (the default, above), true, false -------------------------------------------
@pytest.fixture(scope="module")
def dev_sites(make_site: Any) -> dict[str, Any]:
    return {
        mode: make_site(cfg=DEV_CFG, dev_login=f"DEV_LOGIN = {mode}", note=f"Note{mode.title()}")
        for mode in ("true", "false")
    }


@pytest.mark.parametrize(
    ("mode", "serving", "printed"),
    [
        ("true", {"debug": False}, True),
        ("true", {"debug": True}, True),
        ("true", {"debug": False, "prod": True}, False),
        ("true", {"debug": False, "host": "0.0.0.0"}, False),
        ("true", {"debug": False, "host": "192.168.1.10"}, False),
        ("false", {"debug": True}, False),
        ("false", {"debug": False}, False),
    ],
    ids=[
        "true without debug",
        "true with debug",
        "true in prod",
        "true on all interfaces",
        "true on a lan address",
        "false with debug",
        "false without debug",
    ],
)
def test_dev_login_modes(
    dev_sites: dict[str, Any],
    oidc: Any,
    capsys: pytest.CaptureFixture[str],
    mode: str,
    serving: dict[str, Any],
    printed: bool,
) -> None:
    site = dev_sites[mode]
    site.clear()
    link = printed_link(site, capsys, **serving)
    assert (link is not None) is printed
    auth = site.project.app.extensions["flasker_auth"]
    assert auth.dev_login_active is printed
    if link is not None:
        visitor, response = use(site, link)
        assert response.status_code in (302, 303), response.text
        assert visitor.whoami() == {"email": DEV_EMAIL, "role": "admin"}


def test_dev_login_rejects_other_values(make_site: Any) -> None:
    from flasker.exceptions import FlaskerError

    with pytest.raises(FlaskerError, match="DEV_LOGIN"):
        make_site(cfg=DEV_CFG, dev_login="DEV_LOGIN = sometimes", note="NoteSometimes")


def test_the_link_line_stands_out(site: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    serve(site, debug=True)
    lines = [line for line in capsys.readouterr().err.splitlines() if "/auth/dev/" in line]
    assert len(lines) == 1
    assert lines[0].startswith("flasker: sign in at http://127.0.0.1:5000/auth/dev/")


@pytest.mark.slow
def test_flasker_server_without_debug_prints_the_link_when_dev_login_is_true(
    write_site: Any,
) -> None:
    cfg = write_site(cfg=DEV_CFG, dev_login="DEV_LOGIN = true").cfg
    with LiveServer(cfg, "--no-worker", log=cfg.parent / "true.log") as server:
        link = _link_in(server.output())
        assert link is not None, server.output()
        browser = requests.Session()
        assert browser.get(link, allow_redirects=False, timeout=10).status_code in (302, 303)
        assert DEV_EMAIL in browser.get(server.url + "/", timeout=10).text
