"""Who may sign in and with which role (the allow-list): listed emails and admins, exact
domains, case ignored; a malformed address is never allowed."""

from __future__ import annotations

import pytest

from flasker_auth.policy import ADMIN, VIEWER, AccessPolicy, normalize_email

POLICY = AccessPolicy.of(
    emails=["Ada@Allowed.Test", "not an address"],
    domains=["Example.com", "@corp.test", "  "],
    admins=["root@admins.test"],
)


def test_the_lists_are_normalised_once() -> None:
    assert (POLICY.emails, POLICY.domains, POLICY.admins) == (
        frozenset({"ada@allowed.test"}),
        frozenset({"example.com", "corp.test"}),
        frozenset({"root@admins.test"}),
    )


@pytest.mark.parametrize(
    "email",
    [
        "ada@allowed.test",
        "ADA@allowed.TEST",
        "  ada@allowed.test  ",
        "root@admins.test",  # an admin needs no other listing
        "bob@example.com",
        "eve@CORP.test",  # a domain written with its @
    ],
)
def test_listed_emails_admins_and_domains_are_allowed(email: str) -> None:
    assert POLICY.allows(email) is True


@pytest.mark.parametrize(
    "email",
    [
        "mallory@evil-example.com",
        "mallory@sub.example.com",  # domains match exactly, no subdomains
        "mallory@example.com.evil.test",
        "ada+x@allowed.test",
        "other@admins.test",  # an admin's domain is not a listed domain
        "a@b@example.com",
        "@example.com",
        "example.com",
        "",
    ],
)
def test_other_and_malformed_addresses_are_not(email: str) -> None:
    assert POLICY.allows(email) is False


def test_admins_get_the_admin_role_and_everyone_else_viewer() -> None:
    assert POLICY.role_for("ROOT@admins.test") == ADMIN
    assert POLICY.role_for("ada@allowed.test") == VIEWER
    assert POLICY.role_for("bob@example.com") == VIEWER
    assert POLICY.role_for("not an address") == VIEWER


def test_an_empty_policy_allows_nobody() -> None:
    assert AccessPolicy.of().allows("ada@allowed.test") is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ada@Allowed.Test", "ada@allowed.test"),
        ("  bob@example.com\t", "bob@example.com"),
        ("a b@example.com", None),
        ("a@b@c", None),
        ("ada@", None),
        ("@allowed.test", None),
        ("ada\x01@allowed.test", None),
        (None, None),
        (42, None),
    ],
)
def test_normalize_email(raw: object, expected: str | None) -> None:
    assert normalize_email(raw) == expected
