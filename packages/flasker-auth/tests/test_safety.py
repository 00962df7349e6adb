"""Where a sign-in lands: `next` is honoured only when it is a path on this site."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

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
    assert response.status_code in (302, 303), response.text
    assert_on_site(response.headers["Location"])
    assert visitor.is_signed_in


@pytest.mark.parametrize("next_url", ["//evil.example", "https://evil.example"])
def test_an_off_site_next_is_not_followed_when_already_signed_in(
    site: Any, visitor: Any, next_url: str
) -> None:
    visitor.sign_in(site.allowed_email)
    response = visitor.get("/auth/login", query_string={"next": next_url})
    assert response.status_code < 500
    if response.status_code in (301, 302, 303, 307, 308):
        location = response.headers["Location"]
        if not location.startswith(site.provider.url + "/"):
            assert_on_site(location)


@pytest.mark.parametrize("next_url", ["/some/page", "/some/page?tab=2", "/items/7"])
def test_an_on_site_next_is_honoured(site: Any, visitor: Any, next_url: str) -> None:
    response = visitor.sign_in(site.allowed_email, next=next_url)
    assert response.status_code in (302, 303), response.text
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost")
    assert location.path == urlsplit(next_url).path
    if "?" in next_url:
        assert location.query == urlsplit(next_url).query
    assert visitor.get(response.headers["Location"]).status_code == 200


def test_the_guard_sends_a_page_to_sign_in_and_back(site: Any, visitor: Any) -> None:
    refused = visitor.get("/some/page?tab=2")
    assert refused.status_code in (302, 303)
    login = refused.headers["Location"]
    assert urlsplit(login).path == "/auth/login"
    assert parse_qs(urlsplit(login).query)["next"] == ["/some/page?tab=2"]
    site.provider.login_as(site.allowed_email)
    response = visitor.callback(visitor.authorize(visitor.start_sign_in(url=login)))
    location = urlsplit(response.headers["Location"])
    assert (location.path, location.query) == ("/some/page", "tab=2")
