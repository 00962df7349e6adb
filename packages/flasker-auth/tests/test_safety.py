"""Where a sign-in lands: `next` is honoured only when it is a path on this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flasker_auth.safety import cross_origin_problem, safe_next

OFF_SITE = [
    "//evil.example",
    "//evil.example/some/page",
    "https://evil.example",
    "http://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "///evil.example",
    "https:evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "/\t/evil.example",
    " //evil.example",
    "http://localhost@evil.example/",
]


def assert_on_site(location: str) -> None:
    """A visitor following `location` stays on the app's origin."""
    parts = urlsplit(location)
    assert parts.scheme in ("", "http"), location
    assert parts.netloc in ("", "localhost"), location
    assert parts.path.startswith("/"), location
    assert not parts.path.startswith("//"), location
    assert "\\" not in location, location
    assert not any(ord(c) < 32 for c in location), location
    assert "evil.example" not in location, location


@pytest.mark.parametrize("next_url", OFF_SITE)
def test_an_off_site_next_stays_on_site(site: Any, visitor: Any, next_url: str) -> None:
    response = visitor.sign_in(site.allowed_email, next=next_url)
    assert response.status_code == 302, response.text
    assert_on_site(response.headers["Location"])
    assert visitor.is_signed_in


@pytest.mark.parametrize("next_url", ["//evil.example", "https://evil.example"])
def test_an_off_site_next_is_not_followed_when_already_signed_in(
    site: Any, visitor: Any, next_url: str
) -> None:
    """A signed-in user asking to sign in again goes straight to `next`, and an off-site `next`
    is replaced by the site's home page."""
    visitor.sign_in(site.allowed_email)
    response = visitor.get("/auth/login", query_string={"next": next_url})
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/"
    assert visitor.is_signed_in


@pytest.mark.parametrize("next_url", ["/some/page", "/some/page?tab=2", "/items/7"])
def test_an_on_site_next_is_honoured(site: Any, visitor: Any, next_url: str) -> None:
    response = visitor.sign_in(site.allowed_email, next=next_url)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path == urlsplit(next_url).path
    if "?" in next_url:
        assert location.query == urlsplit(next_url).query
    assert visitor.get(response.headers["Location"]).status_code == 200


def test_the_guard_sends_a_page_to_sign_in_and_back(site: Any, visitor: Any) -> None:
    refused = visitor.get("/some/page?tab=2")
    assert refused.status_code == 302
    login = refused.headers["Location"]
    assert urlsplit(login).path == "/auth/login"
    assert parse_qs(urlsplit(login).query)["next"] == ["/some/page?tab=2"]
    site.provider.login_as(site.allowed_email)
    response = visitor.callback(visitor.authorize(visitor.start_sign_in(url=login)))
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == ("/some/page", "tab=2")


# -- changes sent by pages of other sites -----------------------------------------------------
@pytest.mark.parametrize(
    ("sec_fetch_site", "origin"),
    [
        ("cross-site", None),
        ("cross-site", "http://localhost"),  # the browser's word wins over a matching Origin
        ("same-site", "http://user-content.localhost"),  # a sibling subdomain is another site
        (None, "https://evil.example"),
        (None, "http://localhost.evil.example"),
        (None, "http://localhost:8080"),  # another port is another origin
        (None, "null"),  # sandboxed frames, data: URLs
        (None, "http://evil.example@localhost"),  # no browser sends it; still not our origin
        (None, "not a url"),
    ],
)
def test_a_change_from_another_site_is_named(sec_fetch_site: str | None, origin: str) -> None:
    problem = cross_origin_problem(sec_fetch_site, origin, "localhost")
    assert problem is not None
    assert "another site" in problem


@pytest.mark.parametrize(
    ("sec_fetch_site", "origin", "host"),
    [
        ("same-origin", "http://localhost", "localhost"),
        ("same-origin", None, "localhost"),  # the browser's word, Origin left out
        ("none", None, "localhost"),  # typed in the address bar, a bookmark
        ("Same-Origin", None, "localhost"),
        (None, "http://localhost:5000", "localhost:5000"),  # a browser without Sec-Fetch-Site
        (None, "HTTP://LocalHost:5000", "localhost:5000"),
        (None, None, "localhost"),  # curl, a script: not a browser a page can drive
        ("cross-site", "https://houses.example.com", "10.0.0.5:8000"),  # trusted, see below
    ],
)
def test_a_change_from_this_site_passes(
    sec_fetch_site: str | None, origin: str | None, host: str
) -> None:
    trusted = ["https://houses.example.com/"]  # EXTERNAL_URL behind a proxy rewriting Host
    assert cross_origin_problem(sec_fetch_site, origin, host, trusted) is None


@pytest.mark.parametrize(
    "target", ["/%2F%2Fevil.example", "/%2f/evil.example", "/%5Cevil.example", "/%0A/evil.example"]
)
def test_a_next_that_decodes_to_another_site_is_dropped(target: str) -> None:
    """Regression (issue 10): `/%2F%2Fevil.example` passed, and is `//evil.example` to any proxy
    or server that decodes the path once before the browser follows it."""
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", ["/files/a%2Fb", "/search?q=%2F%2Fx", "/caf%C3%A9", "/a%20b"])
def test_an_encoded_path_on_this_site_is_kept(target: str) -> None:
    assert safe_next(target) == target
