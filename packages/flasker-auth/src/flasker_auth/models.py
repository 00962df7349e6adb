"""Users, API tokens and one-time sign-in links, stored through core's `Model`.

The tables (`flasker_users`, `flasker_api_tokens`, `flasker_sign_in_links`) live in the
project's database beside its own models, so `create_all`, `flasker db create` and Alembic's
autogenerate see them. They are mapped only when an `AuthManager` is registered (through
`auth_models()`), never by importing `flasker_auth`: a process that merely imports the package
(`flasker.ext.auth`, a console listing extensions) gets no extra tables, and a test suite that
forgets the models of one project gets them mapped afresh for the next.

The class names (`AuthUser`, not `User`) keep clear of the project's own models: declarative
string lookups such as `relationship("User")` would become ambiguous otherwise.

Columns are declared on the `...Record` mixins, which also serve as the types in signatures::

    models = auth_models()
    user = db.session.scalar(select(models.User).where(models.User.email == "a@example.com"))
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .policy import ADMIN, ROLES

#: Table names (stable: migrations and operators' SQL refer to them).
USERS_TABLE = "flasker_users"
TOKENS_TABLE = "flasker_api_tokens"
LINKS_TABLE = "flasker_sign_in_links"


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(UTC)


def new_session_version() -> int:
    """A user's first session generation: random, so a user removed and added again (who may
    get the same id back from SQLite) does not revive the old user's session cookies."""
    return secrets.randbelow(2**30) + 1


def as_utc(moment: datetime | None) -> datetime | None:
    """A stored datetime as aware UTC (SQLite gives naive values back)."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class UserRecord:
    """Someone who may sign in: email (unique, lower case), name, role, when seen.

    Implements Flask-Login's user protocol itself: its `UserMixin` defines `__eq__`, which
    would make mapped instances unhashable.
    """

    is_authenticated = True
    is_active = True
    is_anonymous = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True, index=True)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    role: Mapped[str] = mapped_column(String(16), default="viewer")
    #: Added by an operator (`flasker auth user add`): may sign in without being on the
    #: cfg allow-list. Users created at sign-in depend on the allow-list at every request.
    invited: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_sign_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    #: The generation of the user's sessions: stored in the session at sign-in and compared at
    #: every request. Sign-out, a role change and removal move it on, so every session cookie
    #: issued before (a copy included) stops working although Flask's cookie is still signed.
    session_version: Mapped[int] = mapped_column(
        Integer, default=new_session_version, server_default="1"
    )

    def get_id(self) -> str:
        return str(self.id)

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued to this user so far (caller commits)."""
        current = self.session_version or 0
        self.session_version = current + 1 if current < 2**31 - 1 else 1

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def has_role(self, *roles: str) -> bool:
        return self.role in roles

    def __str__(self) -> str:
        return self.email


class ApiTokenRecord:
    """An API token: only its sha256 is stored; `prefix` finds it and names it in listings."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey(f"{USERS_TABLE}.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: Space-separated, e.g. "api:read api:write".
    scopes: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    def status(self, now: datetime | None = None) -> str:
        """active, revoked or expired."""
        if self.revoked is not None:
            return "revoked"
        expires = as_utc(self.expires)
        if expires is not None and expires <= (now or utcnow()):
            return "expired"
        return "active"


class SignInLinkRecord:
    """A one-time development sign-in link: the sha256 of its secret, expiry, use."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


@dataclass(frozen=True)
class AuthModels:
    """The mapped classes of the current `Model` registry."""

    User: Any  # type[UserRecord] & type[Model]
    ApiToken: Any  # type[ApiTokenRecord] & type[Model]
    SignInLink: Any  # type[SignInLinkRecord] & type[Model]

    def all(self) -> tuple[type, ...]:
        return (self.User, self.ApiToken, self.SignInLink)


_lock = threading.Lock()
_current: AuthModels | None = None


def auth_models() -> AuthModels:
    """The auth models, mapped on core's `Model` (again, if a test suite unmapped them)."""
    global _current
    with _lock:
        if _current is None or not _still_mapped(_current):
            _current = _define()
        return _current


def _still_mapped(models: AuthModels) -> bool:
    from flasker.model import Model

    mapped = {mapper.class_ for mapper in Model.registry.mappers}
    tables = Model.metadata.tables
    return all(
        cls in mapped and tables.get(cls.__tablename__) is cls.__table__ for cls in models.all()
    )


def _define() -> AuthModels:
    from flasker.model import Model

    taken = [name for name in (USERS_TABLE, TOKENS_TABLE, LINKS_TABLE) if name in Model.metadata]
    if taken:
        from .exceptions import AuthSetupError

        raise AuthSetupError(
            f"the table(s) {', '.join(taken)} are already defined by another model: "
            "flasker-auth keeps its users and tokens there; rename the other model's table"
        )

    def model(name: str, record: type, table: str, doc: str) -> Any:
        # __api__ = False: flasker-api's add_all_models leaves users and token hashes out
        namespace = {
            "__tablename__": table,
            "__module__": __name__,
            "__doc__": doc,
            "__api__": False,
        }
        return type(name, (record, Model), namespace)

    user = model("AuthUser", UserRecord, USERS_TABLE, UserRecord.__doc__ or "")
    token = model("ApiToken", ApiTokenRecord, TOKENS_TABLE, ApiTokenRecord.__doc__ or "")
    link = model("SignInLink", SignInLinkRecord, LINKS_TABLE, SignInLinkRecord.__doc__ or "")
    return AuthModels(User=user, ApiToken=token, SignInLink=link)


__all__ = [
    "ROLES",
    "ApiTokenRecord",
    "AuthModels",
    "SignInLinkRecord",
    "UserRecord",
    "auth_models",
]
