"""Sign-in (OIDC, Google preset), allow-lists, roles and API tokens for Flasker projects.

Registering an `AuthManager` closes the app: every view needs a signed-in user unless marked
`@public`. `GoogleAuthManager` keeps flasker 0.1's one-liner (`flasker.ext.auth` re-exports
this package)::

    from flasker import current_project
    from flasker_auth import GoogleAuthManager, public

    current_project.register_manager(GoogleAuthManager(
        client_id="…", client_secret="${GOOGLE_CLIENT_SECRET}",
        authorized_emails=["hers@example.com"]))

Names are imported on first use, so `flasker --help` (which loads the `flasker auth` command
group) does not pay for Flask and SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask_login import current_user  # type: ignore[import-untyped]  # flask-login ships no type information

    from .exceptions import AuthError, AuthSetupError, SignInError
    from .guard import TOKEN_SCOPE_MARK, login_required, public, roles_required, token_scope
    from .manager import AuthManager, GoogleAuthManager
    from .models import auth_models
    from .policy import ADMIN, METRICS_SCOPE, VIEWER, AccessPolicy
    from .safety import safe_next

_WHERE = {
    "ADMIN": ".policy",
    "METRICS_SCOPE": ".policy",
    "TOKEN_SCOPE_MARK": ".guard",
    "VIEWER": ".policy",
    "AccessPolicy": ".policy",
    "AuthError": ".exceptions",
    "AuthManager": ".manager",
    "AuthSetupError": ".exceptions",
    "GoogleAuthManager": ".manager",
    "SignInError": ".exceptions",
    "auth_models": ".models",
    "current_user": "flask_login",
    "login_required": ".guard",
    "public": ".guard",
    "roles_required": ".guard",
    "safe_next": ".safety",
    "token_scope": ".guard",
}

__all__ = [
    "ADMIN",
    "METRICS_SCOPE",
    "TOKEN_SCOPE_MARK",
    "VIEWER",
    "AccessPolicy",
    "AuthError",
    "AuthManager",
    "AuthSetupError",
    "GoogleAuthManager",
    "SignInError",
    "auth_models",
    "current_user",
    "login_required",
    "public",
    "roles_required",
    "safe_next",
    "token_scope",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'flasker_auth' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
