"""Sign-in through a real OpenID Connect provider: the whole redirect dance, and the attacks
on it (state, code, nonce, signature, issuer, audience, expiry) that must all fail cleanly."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


def params(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def replace_param(url: str, **changes: str) -> str:
    from urllib.parse import urlencode

    parts = urlsplit(url)
    return parts._replace(query=urlencode({**params(url), **changes})).geturl()


#: What a visitor reads when the sign-in does not match their browser session.
STATE_UNKNOWN = (
    "The sign-in request does not match this browser session (its state is unknown, used or "
    "from another browser); start again."
)
ID_TOKEN_UNVERIFIED = (
    "The provider's ID token did not verify (signature, issuer, audience or nonce); sign in again."
)


def message(response: Any) -> tuple[int, str, list[str]]:
    """The status, title and paragraphs of one of auth's message pages."""
    (title,) = re.findall(r"<h1[^>]*>(.*?)</h1>", response.text)
    paragraphs = re.findall(r'<p class="card-text">(.*?)</p>', response.text)
    return response.status_code, html.unescape(title), [html.unescape(p) for p in paragraphs]


def assert_refused(
    site: Any,
    visitor: Any,
    response: Any,
    email: str | None,
    expected: tuple[int, str, list[str]],
) -> None:
    """A failed sign-in: the page saying why (`expected`: status, title, paragraphs), nobody
    signed in, no user stored."""
    assert message(response) == expected
    assert response.headers["Cache-Control"] == "no-store"
    assert not visitor.is_signed_in
    if email is not None:
        assert site.user(email) is None


def not_allowed(email: str) -> tuple[int, str, list[str]]:
    return (
        403,
        "Not allowed",
        [
            f"You signed in as {email}, but this address is not allowed to use this site.",
            "Ask an administrator to add it to AUTHORIZED_EMAILS (or its domain to "
            "AUTHORIZED_DOMAINS) in the [AUTH] section, or to run:",
        ],
    )


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
    assert response.status_code == 302, response.text
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
    assert_refused(site, visitor, response, "eve@nowhere.test", not_allowed("eve@nowhere.test"))
    assert "<code>flasker auth user add eve@nowhere.test</code>" in response.text


def test_an_allowed_domain_signs_in(site: Any, visitor: Any) -> None:
    response = visitor.sign_in("bob@example.com")
    assert response.status_code == 302, response.text
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
    assert_refused(site, visitor, response, email, not_allowed(email))


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
    unverified = [
        f"The provider has not verified {site.allowed_email}, so it cannot be used to sign in.",
        "Verify the address with your provider, then sign in again.",
    ]
    expected = (403, "Email address not verified", unverified)
    assert_refused(site, visitor, response, site.allowed_email, expected)


def test_a_provider_that_sends_no_email_is_refused_without_error(site: Any, visitor: Any) -> None:
    response = visitor.sign_in(None)
    expected = (403, "Sign-in refused", ["The provider gave no email address."])
    assert_refused(site, visitor, response, None, expected)
    assert site.rows("flasker_users") == []


# -- attacks on the redirect dance ----------------------------------------------------------------
def test_tampered_state_is_refused_before_the_code_is_exchanged(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    response = visitor.callback(replace_param(callback, state="forged-state-value-1234567890"))
    expected = (400, "Sign-in failed", [STATE_UNKNOWN])
    assert_refused(site, visitor, response, site.allowed_email, expected)
    assert site.provider.calls("/token") == []


def test_a_callback_without_state_is_refused(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    query = params(callback)
    response = visitor.get("/auth/callback", query_string={"code": query["code"]})
    expected = (400, "Sign-in failed", [STATE_UNKNOWN])
    assert_refused(site, visitor, response, site.allowed_email, expected)


def test_a_callback_from_someone_elses_sign_in_is_refused(site: Any) -> None:
    """Login CSRF: the attacker starts a sign-in and has the victim's visitor finish it."""
    attacker, victim = site.browser(), site.browser()
    site.provider.login_as(site.allowed_email)
    callback = attacker.authorize(attacker.start_sign_in())
    response = victim.callback(callback)
    expected = (400, "Sign-in failed", [STATE_UNKNOWN])
    assert_refused(site, victim, response, site.allowed_email, expected)


def test_a_replayed_code_is_refused(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    visitor.callback(callback)
    assert visitor.is_signed_in
    # another visitor starts its own sign-in and slips in the code already used
    thief = site.browser()
    fresh = thief.start_sign_in()
    response = thief.callback(replace_param(callback, state=params(fresh)["state"]))
    used = (
        "The provider did not accept the sign-in code (it may have been used already or "
        "expired); start again."
    )
    assert_refused(site, thief, response, None, (400, "Sign-in failed", [used]))
    assert site.provider.replayed_codes == 1


def test_the_same_callback_twice_does_not_sign_in_twice(site: Any, visitor: Any) -> None:
    site.provider.login_as(site.allowed_email)
    callback = visitor.authorize(visitor.start_sign_in())
    visitor.callback(callback)
    other = site.browser()
    response = other.callback(callback)
    assert_refused(site, other, response, None, (400, "Sign-in failed", [STATE_UNKNOWN]))


def test_a_provider_error_answer_is_handled(site: Any, visitor: Any) -> None:
    state = params(visitor.start_sign_in())["state"]
    response = visitor.get(
        "/auth/callback",
        query_string={"error": "access_denied", "error_description": "no", "state": state},
    )
    refused = ["The sign-in provider refused the sign-in (access_denied)."]
    assert_refused(site, visitor, response, None, (403, "Sign-in refused", refused))


ID_TOKEN_ATTACKS = {
    "bad signature": ({"sign_with_other_key": True}, ID_TOKEN_UNVERIFIED),
    "wrong audience": ({"audience": "someone-else"}, ID_TOKEN_UNVERIFIED),
    "wrong issuer": ({"issuer": "http://evil.example"}, ID_TOKEN_UNVERIFIED),
    "expired ID token": (
        {"expired_id_token": True},
        "The provider's ID token has expired; sign in again.",
    ),
    "wrong nonce": ({"nonce": "attacker-chosen-nonce"}, ID_TOKEN_UNVERIFIED),
}


@pytest.mark.parametrize(("knobs", "why"), ID_TOKEN_ATTACKS.values(), ids=ID_TOKEN_ATTACKS.keys())
def test_a_forged_id_token_is_refused(
    site: Any, visitor: Any, knobs: dict[str, Any], why: str
) -> None:
    for name, value in knobs.items():
        setattr(site.provider.knobs, name, value)
    response = visitor.sign_in(site.allowed_email)
    assert_refused(site, visitor, response, site.allowed_email, (403, "Sign-in refused", [why]))
    # the attack reached the ID token check: the code was exchanged
    assert len(site.provider.calls("/token")) == 1


def test_an_expired_provider_access_token_does_not_matter_once_signed_in(
    site: Any, visitor: Any
) -> None:
    """The app reads who signed in from the ID token and never uses the provider's access
    token afterwards, so one that has already expired changes nothing."""
    site.provider.knobs.access_token_expires_in = -60
    response = visitor.sign_in(site.allowed_email)
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/"
    answers = {path: visitor.get(path) for path in ("/", "/whoami", "/some/page", site.notes)}
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(
        answers, 200
    )
    assert answers["/"].text == "home of " + site.allowed_email
    assert answers["/whoami"].get_json() == {"email": site.allowed_email, "role": "viewer"}
    assert answers["/some/page"].text == "some page"
    assert answers[site.notes].get_json()["data"] == []
