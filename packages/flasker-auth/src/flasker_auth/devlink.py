"""One-time sign-in links for local development, so a newcomer opens the console at once.

`flasker server` on a loopback address prints such a link (through `AuthManager.on_serve`)
when DEV_LOGIN allows it (auto: with `--debug`; true: always; never with `--prod`), and prints
it again, or a new one once it is used, when someone opens the sign-in page. The link signs in
a local admin (`admin@localhost`). It is random
(`secrets.token_urlsafe(32)`), stored only as its sha256, valid for ten minutes, and used at
most once: the row is claimed by one conditional UPDATE, so two requests racing for the same
link cannot both win. The route refuses (404) unless the serving process enabled it, the
request comes from loopback without proxy headers, and the server is not in production.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from .models import utcnow
from .tokens import hash_token

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from flasker.manager import ServeInfo

    from .models import AuthModels

LINK_LIFETIME = timedelta(minutes=10)
DEV_EMAIL = "admin@localhost"
DEV_NAME = "Local admin"


def create_link(session: Session, models: AuthModels, email: str = DEV_EMAIL) -> str:
    """Store a new link for `email`; return its secret (only its hash is stored)."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        models.SignInLink(
            token_hash=hash_token(secret), email=email, created=now, expires=now + LINK_LIFETIME
        )
    )
    session.flush()
    return secret


def consume_link(session: Session, models: AuthModels, secret: str) -> str | None:
    """Mark the link used and return its email; None when unknown, used or expired."""
    if not secret or len(secret) > 100:
        return None
    link = models.SignInLink
    now = utcnow()
    digest = hash_token(secret)
    claimed = session.execute(
        update(link)
        .where(link.token_hash == digest, link.used.is_(None), link.expires > now)
        .values(used=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    row = session.query(link.email).filter(link.token_hash == digest).one()
    return str(row.email)


def link_is_live(session: Session, models: AuthModels, secret: str) -> bool:
    """Is this link stored, unused and unexpired?"""
    link = models.SignInLink
    found = session.scalar(
        select(link.id).where(
            link.token_hash == hash_token(secret), link.used.is_(None), link.expires > utcnow()
        )
    )
    return found is not None


def link_url(serving: ServeInfo, path: str) -> str:
    """The URL to print: the served host (IPv6 in brackets) and port, then `path`."""
    host = serving.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{serving.port}{path}"
