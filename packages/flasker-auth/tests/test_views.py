"""The auth blueprint's own pages: sign-out (a CSRF-checked POST) and the session around a
sign-in (cleared and rotated)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def signed_in(site: Any, visitor: Any) -> Any:
    visitor.sign_in(site.allowed_email)
    assert visitor.is_signed_in
    return visitor


# -- sign-out -------------------------------------------------------------------------------------
def test_sign_out_is_a_post_with_csrf_and_clears_the_session(signed_in: Any) -> None:
    signed_in.get("/session/plant")
    assert signed_in.get("/session/read").text
    response = signed_in.post("/auth/logout", data={"csrf_token": signed_in.csrf_token()})
    assert response.status_code in (200, 302, 303), response.text
    assert not signed_in.is_signed_in
    assert signed_in.get("/session/read").text == ""
    assert signed_in.get("/").status_code in (302, 303)


def test_sign_out_accepts_the_csrf_header_too(signed_in: Any) -> None:
    token = signed_in.csrf_token()
    response = signed_in.post("/auth/logout", headers={"X-CSRFToken": token})
    assert response.status_code in (200, 302, 303), response.text
    assert not signed_in.is_signed_in


def test_sign_out_by_get_does_not_sign_out(signed_in: Any) -> None:
    """GET never changes state: at most it shows a form that POSTs."""
    response = signed_in.get("/auth/logout")
    assert response.status_code in (200, 405), response.status_code
    if response.status_code == 200:
        assert 'method="post"' in response.text.lower()
    assert signed_in.is_signed_in


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_sign_out_by_head_or_options_does_not_sign_out(signed_in: Any, method: str) -> None:
    """Regression (issue 10's route walk): Flask runs a GET view for HEAD, and the view signed
    out on any method but GET, so a HEAD carrying the CSRF header ended the session."""
    response = signed_in.open(
        method, "/auth/logout", headers={"X-CSRFToken": signed_in.csrf_token()}
    )
    assert response.status_code == 200, response.status_code
    assert signed_in.is_signed_in


@pytest.mark.parametrize("token", [None, "", "not-a-csrf-token"], ids=["none", "empty", "forged"])
def test_sign_out_without_a_valid_csrf_token_is_refused(signed_in: Any, token: str | None) -> None:
    data = {} if token is None else {"csrf_token": token}
    response = signed_in.post("/auth/logout", data=data)
    assert response.status_code == 400, (response.status_code, response.text)
    assert "Sign-out not confirmed" in response.text
    assert "expired or did not come from this site" in response.text
    assert "Traceback" not in response.text
    assert signed_in.is_signed_in


def test_a_csrf_token_of_another_session_is_refused(site: Any, signed_in: Any) -> None:
    other = site.browser()
    other.sign_in(site.admin_email)
    response = signed_in.post("/auth/logout", data={"csrf_token": other.csrf_token()})
    assert response.status_code == 400, response.text
    assert "Sign-out not confirmed" in response.text
    assert signed_in.is_signed_in


def test_the_apps_own_forms_are_not_csrf_checked_by_auth(signed_in: Any) -> None:
    """CSRFProtect runs for the auth blueprint only: the app's own routes are its business."""
    response = signed_in.post("/form", headers={"Origin": "http://localhost"})
    assert response.status_code == 200, response.text
    assert response.text == "form"


# -- the session around sign-in -------------------------------------------------------------------
def test_sign_in_clears_and_rotates_the_session(site: Any, visitor: Any) -> None:
    visitor.get("/session/plant")  # e.g. a fixation attempt, or anything left from before
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    before = visitor.cookie()
    assert before is not None
    response = visitor.callback(callback)
    assert response.status_code in (302, 303), response.text
    after = visitor.cookie()
    assert after is not None
    assert after != before
    assert visitor.is_signed_in
    assert visitor.get("/session/read").text == ""  # nothing carried over

    # the cookie from before the sign-in does not sign anyone in
    stale = site.browser()
    stale.set_cookie(before)
    assert not stale.is_signed_in
    assert stale.get("/").status_code in (302, 303)


def test_the_session_cookie_is_httponly_and_samesite_lax(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    response = visitor.callback(visitor.authorize(visitor.start_sign_in()))
    name = visitor.session_cookie_name + "="
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name)]
    assert cookies, response.headers
    for header in cookies:
        lowered = header.lower()
        assert "httponly" in lowered, header
        assert "samesite=lax" in lowered, header


def test_sign_out_when_not_signed_in_is_harmless(site: Any, visitor: Any) -> None:
    response = visitor.post("/auth/logout", data={"csrf_token": "x"})
    assert response.status_code < 500
    assert not visitor.is_signed_in


# -- flasker 0.1's URLs (issue 11) -------------------------------------------------------------
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/auth/sign_in?next=/private", "/auth/login?next=/private"),
        ("/auth/sign_out", "/auth/logout"),
        ("/auth/oauth2callback?code=x&state=y", "/auth/callback?code=x&state=y"),
    ],
)
def test_flasker_0_1_auth_urls_lead_to_todays(site: Any, visitor: Any, old: str, new: str) -> None:
    response = visitor.get(old)
    assert response.status_code == 302
    assert response.headers["Location"] == new
