"""The AuthManager as the modules below it see it: its names and a Protocol of its methods.

`manager.py` builds the blueprint (views.py) and installs the guard (guard.py); they in turn
call back into the manager (refusals, users, the OIDC client). Typing them against `AuthSite`
instead of importing `AuthManager` keeps the imports one way: the manager imports them, never
the reverse. `AuthManager` satisfies the Protocol structurally (mypy checks it where the
manager hands itself down).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from flask import Response
    from sqlalchemy.orm import Session
    from werkzeug.wrappers import Response as BaseResponse

    from flasker.project import Project

    from .models import AuthModels, UserRecord
    from .oidc import OIDCClient
    from .policy import AccessPolicy

#: Where the manager registers itself in `app.extensions`.
EXTENSION = "flasker_auth"
#: The auth blueprint's name (its endpoints are `flasker_auth.login`, …).
BLUEPRINT_NAME = "flasker_auth"
#: Where the session keeps the user's session generation (`AuthUser.session_version`).
SESSION_VERSION_KEY = "flasker_auth_version"


class AuthSite(Protocol):
    """What the guard, the views and the console ask of the registered AuthManager."""

    blueprint_name: str
    url_prefix: str
    project: Project | None
    policy: AccessPolicy
    public_endpoints: frozenset[str]
    external_url: str | None
    oidc: OIDCClient | None
    dev_login_active: bool

    @property
    def models(self) -> AuthModels: ...

    def db_session(self) -> Session: ...

    def find_user(self, email: str) -> UserRecord | None: ...

    def may_use(self, user: UserRecord) -> bool: ...

    def record_sign_in(
        self, email: str, name: Any = None, role: str | None = None
    ) -> UserRecord: ...

    def announce_dev_link(self, new: bool = False) -> None: ...

    def callback_url(self) -> str: ...

    def is_api_request(self) -> bool: ...

    def refuse_anonymous(self) -> BaseResponse: ...

    def refuse_token(self, detail: str) -> Response: ...

    def refuse_forbidden(self, detail: str) -> Response: ...
