"""Who may sign in, and with which role: the allow-list, as pure logic.

A verified email may sign in when it is listed in `authorized_emails` or `admins`, or when its
domain is exactly one of `authorized_domains` (`evil-example.com` and `sub.example.com` are not
`example.com`). Comparison ignores case. Keeping this apart from Flask lets the CLI, the
callback and every request (a user removed from the list loses access at once) ask the same
question.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ADMIN = "admin"
VIEWER = "viewer"
ROLES = (ADMIN, VIEWER)

#: API token scopes: `api:read` allows the safe methods, `api:write` the others.
READ_SCOPE = "api:read"
WRITE_SCOPE = "api:write"
#: `metrics:read` opens only the views marked `@token_scope("metrics:read")` (the console's
#: Prometheus `/metrics`), never the API nor any other page: what a scraper needs.
METRICS_SCOPE = "metrics:read"
SCOPES = (READ_SCOPE, WRITE_SCOPE, METRICS_SCOPE)
#: Scopes only an admin's token may carry (refused at creation and, should the user become a
#: viewer, at every use).
ADMIN_SCOPES = frozenset({WRITE_SCOPE, METRICS_SCOPE})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def normalize_email(email: object) -> str | None:
    """The lower-cased address, or None when it is not a plausible single address."""
    if not isinstance(email, str):
        return None
    text = email.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return None
    if any(char.isspace() or ord(char) < 0x20 for char in text):
        return None
    return text


def _domain(entry: str) -> str:
    return entry.strip().lower().lstrip("@")


@dataclass(frozen=True)
class AccessPolicy:
    """The allow-list and the admins list, normalised once."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    admins: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        emails: Iterable[str] = (),
        domains: Iterable[str] = (),
        admins: Iterable[str] = (),
    ) -> AccessPolicy:
        def emails_of(items: Iterable[str]) -> frozenset[str]:
            return frozenset(e for e in (normalize_email(i) for i in items) if e)

        return cls(
            emails=emails_of(emails),
            domains=frozenset(d for d in (_domain(i) for i in domains) if d),
            admins=emails_of(admins),
        )

    def allows(self, email: str) -> bool:
        """May this (verified) address sign in?"""
        address = normalize_email(email)
        if address is None:
            return False
        if address in self.emails or address in self.admins:
            return True
        return address.rpartition("@")[2] in self.domains

    def role_for(self, email: str) -> str:
        """The role a user gets at sign-in: admin when listed in `admins`, else viewer."""
        return ADMIN if normalize_email(email) in self.admins else VIEWER
