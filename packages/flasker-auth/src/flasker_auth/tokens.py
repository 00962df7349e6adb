"""API tokens: `fla_<random>` shown once, only its sha256 stored.

A token is looked up by its first characters (`prefix`, also what listings show) and then
compared by hash in constant time, so neither the database nor timing gives it away. Under the
API, scopes map to HTTP methods: `api:read` allows GET, HEAD and OPTIONS, `api:write` the
others. Elsewhere a token opens only a view marked `@token_scope(scope)` (guard.py) when it
carries that scope, e.g. `metrics:read` for the console's `/metrics`. Revoked and expired
tokens are refused (401); a missing scope is 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .models import ApiTokenRecord, UserRecord, as_utc, utcnow
from .policy import READ_METHODS, READ_SCOPE, SCOPES, WRITE_SCOPE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .models import AuthModels

TOKEN_PREFIX = "fla_"
PREFIX_LENGTH = 8
#: A token's last use is written at most this often (a write per request would be costly).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def scope_for(method: str) -> str:
    """The scope an HTTP method needs."""
    return READ_SCOPE if method.upper() in READ_METHODS else WRITE_SCOPE


def parse_scopes(scopes: str | Iterable[str]) -> list[str]:
    """Scopes from `api:read,metrics:read` (or a list), in SCOPES order; ValueError names the
    known ones."""
    items = scopes.replace(",", " ").split() if isinstance(scopes, str) else list(scopes)
    unknown = [s for s in items if s not in SCOPES]
    if unknown or not items:
        raise ValueError(
            f"unknown scope(s) {', '.join(unknown) or '(none given)'}: use {', '.join(SCOPES)}"
        )
    return [s for s in SCOPES if s in items]


def create_token(
    session: Session,
    models: AuthModels,
    user: UserRecord,
    scopes: Iterable[str],
    expires_in: timedelta | None,
    name: str | None = None,
) -> tuple[str, ApiTokenRecord]:
    """Store a new token for `user`; return the token text (shown once) and its row."""
    secret = secrets.token_urlsafe(32)
    token = TOKEN_PREFIX + secret
    now = utcnow()
    record = models.ApiToken(
        user_id=user.id,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        token_hash=hash_token(token),
        scopes=" ".join(parse_scopes(scopes)),
        created=now,
        expires=now + expires_in if expires_in is not None else None,
    )
    session.add(record)
    session.flush()
    return token, record


def find_token(session: Session, models: AuthModels, presented: str) -> ApiTokenRecord | None:
    """The stored token matching `presented` (whatever its status), or None."""
    if not presented.startswith(TOKEN_PREFIX) or len(presented) > 200:
        return None
    prefix = presented[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + PREFIX_LENGTH]
    wanted = hash_token(presented)
    found = None
    for record in session.scalars(select(models.ApiToken).where(models.ApiToken.prefix == prefix)):
        if hmac.compare_digest(record.token_hash, wanted):
            found = record
    return found


def note_use(record: ApiTokenRecord, now: datetime | None = None) -> bool:
    """Record the token's use when the last one is older than LAST_USED_RESOLUTION."""
    now = now or utcnow()
    last = as_utc(record.last_used)
    if last is None or now - last >= LAST_USED_RESOLUTION:
        record.last_used = now
        return True
    return False


def describe(record: ApiTokenRecord, email: str) -> dict[str, Any]:
    """A token as listings show it (never its hash)."""
    return {
        "id": record.id,
        "prefix": TOKEN_PREFIX + record.prefix,
        "name": record.name or "",
        "email": email,
        "scopes": record.scopes,
        "created": _when(record.created),
        "expires": _when(record.expires) or "never",
        "last_used": _when(record.last_used) or "never",
        "status": record.status(),
    }


def _when(moment: datetime | None) -> str:
    value = as_utc(moment)
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""
