"""`flasker auth user list|add|remove|role`, for operators, through click's runner."""

from __future__ import annotations

from typing import Any


def test_user_add_list_role_remove(site: Any) -> None:
    assert site.cli("auth", "user", "list").exit_code == 0
    site.cli("auth", "user", "add", "Carol@Example.com")
    row = site.user("carol@example.com")
    assert row is not None
    assert row["email"] == "carol@example.com"  # stored in lower case
    assert row["role"] == "viewer"

    listing = site.cli("auth", "user", "list").output
    assert "carol@example.com" in listing
    assert "viewer" in listing

    site.cli("auth", "user", "role", "carol@example.com", "admin")
    assert site.user("carol@example.com")["role"] == "admin"
    assert "admin" in site.cli("auth", "user", "list").output

    site.cli("auth", "user", "remove", "carol@example.com")
    assert site.user("carol@example.com") is None
    assert "carol@example.com" not in site.cli("auth", "user", "list").output


def test_user_add_with_a_role(site: Any) -> None:
    site.cli("auth", "user", "add", "dan@example.com", "--role", "admin")
    assert site.user("dan@example.com")["role"] == "admin"


def test_an_added_user_may_sign_in_without_being_on_the_allow_list(site: Any) -> None:
    visitor = site.browser()
    assert visitor.sign_in("guest@elsewhere.test").status_code == 403
    site.cli("auth", "user", "add", "guest@elsewhere.test")
    again = site.browser()
    again.sign_in("guest@elsewhere.test")
    assert again.whoami() == {"email": "guest@elsewhere.test", "role": "viewer"}


def test_a_role_change_ends_the_users_sessions(site: Any) -> None:
    """A role change signs the user out everywhere; they sign in again with the new role."""
    visitor = site.browser()
    visitor.sign_in(site.allowed_email)
    assert visitor.get("/admin-only").status_code == 403
    site.cli("auth", "user", "role", site.allowed_email, "admin")
    assert not visitor.is_signed_in
    visitor.sign_in(site.allowed_email)
    assert visitor.get("/admin-only").status_code == 200
    assert visitor.whoami() == {"email": site.allowed_email, "role": "admin"}

    site.cli("auth", "user", "role", site.allowed_email, "admin")  # no change: session kept
    assert visitor.is_signed_in
    site.cli("auth", "user", "add", site.allowed_email, "--role", "viewer")  # a change, by add
    assert not visitor.is_signed_in


def test_removing_a_user_ends_their_session(site: Any) -> None:
    site.cli("auth", "user", "add", "temp@elsewhere.test")
    visitor = site.browser()
    visitor.sign_in("temp@elsewhere.test")
    assert visitor.is_signed_in
    site.cli("auth", "user", "remove", "temp@elsewhere.test")
    assert not visitor.is_signed_in
    assert visitor.get("/").status_code in (302, 303)


def test_operator_mistakes_fail_cleanly(site: Any) -> None:
    for args, code in [
        (("auth", "user", "remove", "nobody@example.com"), 1),
        (("auth", "user", "role", "nobody@example.com", "admin"), 1),
        (("auth", "user", "role", site.allowed_email, "owner"), 2),
        (("auth", "user", "add", "not-an-email"), None),
        (("auth", "token", "revoke", "9999"), 1),
    ]:
        result = site.cli(*args, ok=False)
        assert result.exit_code != 0, (args, result.output)
        if code is not None:
            assert result.exit_code == code, (args, result.exit_code, result.output)
        assert "Traceback" not in result.output, args
    assert site.user("not-an-email") is None
