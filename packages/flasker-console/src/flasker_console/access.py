"""Who may do what in the console: viewers read, admins change.

With flasker-auth registered, its guard already closes every console page to anonymous
visitors; changes additionally need the admin role (`flasker_auth.roles_required("admin")`).
A bearer token opens no console page, except a view marked with `token_scoped` for the token's
scope (`/metrics`, for a `metrics:read` token of an admin): the guard then signs the token's
user in for that request, so `admin_only` and `current_operator` see them as any user.
Without it (local use) everyone may do everything, and every page says so. Either way a change
needs the app's SECRET_KEY, which signs the CSRF tokens that protect it.

The standalone console behind sign-in (`flasker console --root DIR --auth CFG`) signs the
operator in on its hub app and hands them to each project's console in the WSGI environ
(`OPERATOR_KEY`: email and role); where that is set it is the operator, with the same rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, has_request_context, request, url_for

from .exceptions import ConsoleError

F = TypeVar("F", bound=Callable[..., Any])

ADMIN = "admin"
#: The WSGI environ keys where the standalone console's hub puts the signed-in operator
#: (`(email, role)`) and its sign-out URL (standalone_auth.py); a client cannot set them.
OPERATOR_KEY = "flasker_console.operator"
LOGOUT_KEY = "flasker_console.logout"


@dataclass(frozen=True)
class Operator:
    """The person at the console, as the pages need to know them."""

    is_auth_on: bool
    email: str | None
    role: str | None
    has_secret_key: bool

    @property
    def is_admin(self) -> bool:
        return not self.is_auth_on or self.role == ADMIN

    @property
    def can_change(self) -> bool:
        return self.is_admin and self.has_secret_key


def auth_manager() -> Any | None:
    """The project's AuthManager, or None when no sign-in is set up."""
    return current_app.extensions.get("flasker_auth")


def hub_operator() -> tuple[str, str] | None:
    """The operator the standalone console's hub signed in for this request, if any."""
    if not has_request_context():
        return None
    return request.environ.get(OPERATOR_KEY)


def hub_logout_url() -> str | None:
    """The hub's sign-out URL, when the standalone console's hub admitted this request."""
    if not has_request_context():
        return None
    return request.environ.get(LOGOUT_KEY)


def logout_url() -> str | None:
    """Where the operator signs out: the standalone console's hub, else flasker-auth's
    logout route; None without sign-in."""
    hub = hub_logout_url()  # the standalone console's hub signed this operator in
    if hub is not None:
        return hub
    manager = auth_manager()
    if manager is None:
        return None
    try:
        return url_for(f"{manager.blueprint_name}.logout")
    except Exception:  # an auth version without a logout route
        return None


def current_operator() -> Operator:
    has_secret = bool(current_app.secret_key)
    signed_in = hub_operator()
    if signed_in is not None:
        return Operator(True, signed_in[0], signed_in[1], has_secret)
    if auth_manager() is None:
        return Operator(False, None, None, has_secret)
    from flask_login import current_user  # type: ignore[import-untyped]  # flask-login ships no type information

    if not current_user.is_authenticated:
        return Operator(True, None, None, has_secret)
    return Operator(True, current_user.email, current_user.role, has_secret)


def token_scoped(view: F, scope: str) -> F:
    """Let a bearer token carrying `scope` open `view` (flasker-auth's `token_scope` mark; the
    guard checks the token, then the view's own checks apply to its user). flasker-auth is
    optional: without it installed, `view` is returned as it is (nothing reads the mark)."""
    try:
        from flasker_auth import token_scope
    except ImportError:
        return view
    return token_scope(scope)(view)


def admin_only(view: F) -> F:
    """Let the view run for admins (or anyone, without auth); flasker-auth refuses the others
    (anonymous: sign-in redirect, or 401 with HX-Redirect for htmx; viewers: 403 page)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        signed_in = hub_operator()
        if signed_in is not None:
            if signed_in[1] != ADMIN:
                raise ForbiddenChange(
                    f"this needs the role {ADMIN}; you ({signed_in[0]}) are {signed_in[1]}"
                )
            return view(*args, **kwargs)
        if auth_manager() is None:
            return view(*args, **kwargs)
        from flasker_auth import roles_required

        return roles_required(ADMIN)(view)(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


class ForbiddenChange(ConsoleError):
    """A viewer asked the standalone console behind sign-in for a change."""

    status = 403
