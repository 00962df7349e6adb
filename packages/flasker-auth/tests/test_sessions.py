"""Sign-out really ends a session: Flask's sessions are signed cookies, valid until they expire,
so each user has a session generation (`flasker_users.session_version`) stored in the session
at sign-in and compared at every request. Sign-out, a role change and removal move it on.

The attack: copy the session cookie (from a shared computer, a proxy log, a stolen backup),
wait for the victim to sign out, replay the copy."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def signed_in(site: Any, visitor: Any) -> Any:
    visitor.sign_in(site.allowed_email)
    assert visitor.is_signed_in
    return visitor


def replay(site: Any, cookie: str) -> Any:
    """A new user agent that presents a copied session cookie."""
    thief = site.browser()
    thief.set_cookie(cookie)
    return thief


def assert_refused(site: Any, thief: Any) -> None:
    assert thief.whoami() is None
    assert thief.get("/").status_code in (302, 303)
    assert thief.get(site.notes).status_code == 401


def test_a_copied_cookie_works_until_sign_out_and_never_after(site: Any, signed_in: Any) -> None:
    copy = signed_in.cookie()
    assert copy
    assert replay(site, copy).whoami() == {"email": site.allowed_email, "role": "viewer"}

    response = signed_in.post("/auth/logout", data={"csrf_token": signed_in.csrf_token()})
    assert response.status_code == 200, response.text
    assert not signed_in.is_signed_in
    assert_refused(site, replay(site, copy))


def test_sign_out_ends_every_session_of_that_user_and_only_theirs(
    site: Any, signed_in: Any
) -> None:
    """One generation per user: signing out in one browser signs them out everywhere."""
    laptop = site.browser()
    laptop.sign_in(site.allowed_email)
    someone_else = site.browser()
    someone_else.sign_in(site.admin_email)

    signed_in.post("/auth/logout", data={"csrf_token": signed_in.csrf_token()})
    assert not laptop.is_signed_in
    assert someone_else.is_signed_in
    laptop.sign_in(site.allowed_email)  # signing in again works at once
    assert laptop.is_signed_in


def test_a_cookie_from_before_a_role_change_is_refused(site: Any, signed_in: Any) -> None:
    copy = signed_in.cookie()
    site.cli("auth", "user", "role", site.allowed_email, "admin")
    assert_refused(site, replay(site, copy))
    assert not signed_in.is_signed_in


def test_a_removed_user_added_again_does_not_revive_old_cookies(site: Any) -> None:
    email = "temp@elsewhere.test"
    site.add_user(email)
    visitor = site.browser()
    visitor.sign_in(email)
    copy = visitor.cookie()
    old_id = site.user(email)["id"]

    site.cli("auth", "user", "remove", email)
    site.add_user(email)
    assert site.user(email)["id"] == old_id  # SQLite handed the same id out again
    assert_refused(site, replay(site, copy))


def test_a_session_without_the_generation_is_refused(site: Any, signed_in: Any) -> None:
    """A session signed with the key but lacking the generation (e.g. made before it existed,
    or by Flask-Login alone) does not sign anyone in."""
    user_id = site.user(site.allowed_email)["id"]
    serializer = site.app.session_interface.get_signing_serializer(site.app)
    legacy = serializer.dumps({"_user_id": str(user_id), "_fresh": True})
    assert_refused(site, replay(site, legacy))

    current = dict(serializer.loads(signed_in.cookie()))
    assert current["_user_id"] == str(user_id)
    stale = {**current, "flasker_auth_version": current["flasker_auth_version"] - 1}
    assert_refused(site, replay(site, serializer.dumps(stale)))
    assert replay(site, serializer.dumps(current)).is_signed_in


def test_the_generation_is_stored_in_the_users_table(site: Any, signed_in: Any) -> None:
    before = site.user(site.allowed_email)["session_version"]
    assert isinstance(before, int)
    signed_in.post("/auth/logout", data={"csrf_token": signed_in.csrf_token()})
    assert site.user(site.allowed_email)["session_version"] != before
