"""Sign-in through a real OpenID Connect provider: the whole redirect dance, and the attacks
on it (state, code, nonce, signature, issuer, audience, expiry) that must all fail cleanly."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


def params(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def replace_param(url: str, **changes: str) -> str:
    from urllib.parse import urlencode

    parts = urlsplit(url)
    return parts._replace(query=urlencode({**params(url), **changes})).geturl()


def assert_refused(site: Any, visitor: Any, response: Any, email: str | None) -> None:
    """A failed sign-in: no server error, nobody signed in, no user stored."""
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.status_code != 200 or "Traceback" not in response.text
    assert not visitor.is_signed_in
    if email is not None:
        assert site.user(email) is None


# -- success -------------------------------------------------------------------------------------
def test_login_redirect_asks_for_a_code_with_state_nonce_and_pkce_s256(
    site: Any, visitor: Any
) -> None:
    query = params(visitor.start_sign_in())
    assert query["response_type"] == "code"
    assert query["client_id"] == site.client_id
    assert query["redirect_uri"] == "http://localhost/auth/callback"
    assert {"openid", "email"} <= set(query["scope"].split())
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    assert len(query["state"]) >= 16
    assert len(query["nonce"]) >= 16


def test_each_sign_in_gets_its_own_state_and_nonce(site: Any) -> None:
    first = params(site.browser().start_sign_in())
    second = params(site.browser().start_sign_in())
    for name in ("state", "nonce", "code_challenge"):
        assert first[name] != second[name], name


def test_sign_in_creates_the_user_with_role_and_last_sign_in(site: Any, visitor: Any) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=5)
    response = visitor.sign_in(site.allowed_email, name="Ada Lovelace")
    assert response.status_code in (302, 303), response.text
    assert urlsplit(response.headers["Location"]).path == "/"
    assert visitor.whoami() == {"email": site.allowed_email, "role": "viewer"}
    assert visitor.get("/").text == "home of " + site.allowed_email
    row = site.user(site.allowed_email)
    assert row is not None
    assert row["email"] == site.allowed_email
    assert row["name"] == "Ada Lovelace"
    assert row["role"] == "viewer"
    assert row["created"] is not None
    assert row["last_sign_in"] is not None
    assert row["last_sign_in"].replace(tzinfo=None) >= before
    # the provider was really used: one code exchanged, over its token endpoint
    assert len(site.provider.calls("/token")) == 1


def test_signing_in_again_updates_last_sign_in_and_keeps_one_row(site: Any) -> None:
    site.browser().sign_in(site.allowed_email)
    old = dt.datetime(2001, 1, 1)
    site.update("flasker_users", {"last_sign_in": old}, email=site.allowed_email)
    again = site.browser()
    again.sign_in(site.allowed_email)
    assert again.is_signed_in
    rows = [r for r in site.rows("flasker_users") if r["email"] == site.allowed_email]
    assert len(rows) == 1
    assert rows[0]["last_sign_in"].replace(tzinfo=None) > old


def test_the_admins_list_gives_the_admin_role(site: Any, visitor: Any) -> None:
    visitor.sign_in(site.admin_email)
    assert visitor.whoami() == {"email": site.admin_email, "role": "admin"}
    assert site.user(site.admin_email)["role"] == "admin"
    assert visitor.get("/admin-only").status_code == 200


def test_a_viewer_is_refused_an_admin_page(site: Any, visitor: Any) -> None:
    visitor.sign_in(site.allowed_email)
    assert visitor.get("/admin-only").status_code == 403


# -- the allow-list ------------------------------------------------------------------------------
def test_an_email_not_allowed_gets_a_403_page_naming_it(site: Any, visitor: Any) -> None:
    response = visitor.sign_in("eve@nowhere.test")
    assert response.status_code == 403, response.text
    assert "eve@nowhere.test" in response.text
    assert_refused(site, visitor, response, "eve@nowhere.test")


def test_an_allowed_domain_signs_in(site: Any, visitor: Any) -> None:
    response = visitor.sign_in("bob@example.com")
    assert response.status_code in (302, 303), response.text
    assert visitor.whoami() == {"email": "bob@example.com", "role": "viewer"}


@pytest.mark.parametrize(
    "email",
    [
        "mallory@evil-example.com",  # ends with "example.com", another domain
        "mallory@notexample.com",
        "mallory@example.com.evil.test",
        "mallory@example.co",
        "ada@allowed.test.evil.test",
        "ada+x@allowed.test",  # the listed email is exact, not a pattern
        "bob@sub.example.com",  # domains match exactly, no subdomains
    ],
)
def test_look_alike_emails_and_domains_are_refused(site: Any, visitor: Any, email: str) -> None:
    response = visitor.sign_in(email)
    assert response.status_code == 403, response.text
    assert email in response.text
    assert_refused(site, visitor, response, email)


def test_emails_are_matched_and_stored_case_insensitively(site: Any) -> None:
    first = site.browser()
    first.sign_in("ADA@Allowed.Test")
    assert first.whoami() == {"email": site.allowed_email, "role": "viewer"}
    site.browser().sign_in("Bob@EXAMPLE.com")
    site.browser().sign_in("bob@example.com")
    emails = sorted(row["email"] for row in site.rows("flasker_users"))
    assert emails == [site.allowed_email, "bob@example.com"]


def test_an_unverified_email_is_refused(site: Any, visitor: Any) -> None:
    response = visitor.sign_in(site.allowed_email, email_verified=False)
    assert response.status_code == 403, response.text
    assert_refused(site, visitor, response, site.allowed_email)


def test_a_provider_that_sends_no_email_is_refused_without_error(site: Any, visitor: Any) -> None:
    response = visitor.sign_in(None)
    assert_refused(site, visitor, response, None)
    assert site.rows("flasker_users") == []


# -- attacks on the redirect dance ----------------------------------------------------------------
def test_tampered_state_is_refused_before_the_code_is_exchanged(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    response = visitor.callback(replace_param(callback, state="forged-state-value-1234567890"))
    assert_refused(site, visitor, response, site.allowed_email)
    assert site.provider.calls("/token") == []


def test_a_callback_without_state_is_refused(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    query = params(callback)
    response = visitor.get("/auth/callback", query_string={"code": query["code"]})
    assert_refused(site, visitor, response, site.allowed_email)


def test_a_callback_from_someone_elses_sign_in_is_refused(site: Any) -> None:
    """Login CSRF: the attacker starts a sign-in and has the victim's visitor finish it."""
    attacker, victim = site.browser(), site.browser()
    site.provider.login_as(site.allowed_email)
    callback = attacker.authorize(attacker.start_sign_in())
    response = victim.callback(callback)
    assert_refused(site, victim, response, site.allowed_email)


def test_a_replayed_code_is_refused(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    visitor.callback(callback)
    assert visitor.is_signed_in
    # another visitor starts its own sign-in and slips in the code already used
    thief = site.browser()
    fresh = thief.start_sign_in()
    response = thief.callback(replace_param(callback, state=params(fresh)["state"]))
    assert_refused(site, thief, response, None)
    assert site.provider.replayed_codes == 1


def test_the_same_callback_twice_does_not_sign_in_twice(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    visitor.callback(callback)
    other = site.browser()
    response = other.callback(callback)
    assert_refused(site, other, response, None)


def test_a_provider_error_answer_is_handled(site: Any, visitor: Any) -> None:
    state = params(visitor.start_sign_in())["state"]
    response = visitor.get(
        "/auth/callback",
        query_string={"error": "access_denied", "error_description": "no", "state": state},
    )
    assert_refused(site, visitor, response, None)


ID_TOKEN_ATTACKS = {
    "bad signature": {"sign_with_other_key": True},
    "wrong audience": {"audience": "someone-else"},
    "wrong issuer": {"issuer": "http://evil.example"},
    "expired ID token": {"expired_id_token": True},
    "wrong nonce": {"nonce": "attacker-chosen-nonce"},
}


@pytest.mark.parametrize("knobs", ID_TOKEN_ATTACKS.values(), ids=ID_TOKEN_ATTACKS.keys())
def test_a_forged_id_token_is_refused(site: Any, visitor: Any, knobs: dict[str, Any]) -> None:
    for name, value in knobs.items():
        setattr(site.provider.knobs, name, value)
    response = visitor.sign_in(site.allowed_email)
    assert_refused(site, visitor, response, site.allowed_email)
    # the attack reached the ID token check: the code was exchanged
    assert len(site.provider.calls("/token")) == 1


def test_an_expired_provider_access_token_never_gives_a_500(site: Any, visitor: Any) -> None:
    site.provider.knobs.access_token_expires_in = -60
    response = visitor.sign_in(site.allowed_email)
    assert response.status_code < 500, response.text
    # whatever the app decided at sign-in, later requests never fail with a 500
    for path in ("/", "/whoami", "/some/page", site.notes):
        later = visitor.get(path)
        assert later.status_code < 500, (path, later.status_code, later.text)
        if later.status_code != 200:
            assert later.status_code in (302, 303, 401), (path, later.status_code)
