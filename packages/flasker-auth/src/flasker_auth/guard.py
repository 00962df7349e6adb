"""Closed by default: every request needs a signed-in user unless its view is public.

Once an `AuthManager` is registered, a `before_request` lets through only `@public` views,
`PUBLIC_ENDPOINTS`, static files (any endpoint named `static` or ending in `.static`) and the
auth routes. Everything else needs a user, from the session or, under the API's URL prefix,
from an `Authorization: Bearer` token. Outside the API a bearer token opens only a view marked
`@token_scope(scope)`, and only when the token carries that scope (a machine client such as a
Prometheus scraper, which cannot sign in through the provider). Refusals:

- pages: 302 to the sign-in route with a `next` that stays on the site;
- API requests (under the API's prefix, or asking for JSON and not HTML): 401
  `application/problem+json` with `WWW-Authenticate: Bearer realm=...`; a token without the
  scope of the method, or a viewer writing through the API (signed in or through a token:
  a token's scopes never exceed its user's role), gets 403;
- a bearer token on a `@token_scope` view: 401 problem when it is not valid, expired or
  revoked, 403 problem when it lacks the view's scope or its user no longer has the role the
  scope needs (ADMIN_SCOPES in policy.py);
- any unsafe request (POST, PUT, PATCH, DELETE) without a bearer token that a page of another
  site sent (`Sec-Fetch-Site`, else `Origin` against the Host; safety.py) gets 403, before
  anything else: the session cookie a browser adds by itself never changes anything from there.

Decorators for views::

    @app.get("/about")
    @public
    def about(): ...

    @app.post("/settings")
    @roles_required("admin")
    def settings(): ...

    @app.get("/metrics")
    @token_scope("metrics:read")  # a session works too, as on any page
    @roles_required("admin")
    def metrics(): ...
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, url_for
from flask_login import current_user  # type: ignore[import-untyped]  # flask-login ships no type information

from ._site import EXTENSION
from .policy import ADMIN, ADMIN_SCOPES, READ_METHODS, SCOPES, WRITE_SCOPE
from .problems import PROBLEM_MIMETYPE as PROBLEM_MIMETYPE
from .problems import problem_response
from .safety import cross_origin_problem, safe_next
from .tokens import find_token, note_use, scope_for

if TYPE_CHECKING:
    from werkzeug.wrappers import Response  # flask's redirect() is typed as werkzeug's

    from ._site import AuthSite

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_MARK = "_flasker_public"
#: The attribute `token_scope` sets on a view: the scope a bearer token needs to open it.
TOKEN_SCOPE_MARK = "_flasker_token_scope"


def public(view: F) -> F:
    """Mark a view as open to anonymous visitors (put it under `@app.route`)."""
    setattr(view, PUBLIC_MARK, True)
    return view


def token_scope(scope: str) -> Callable[[F], F]:
    """Let a bearer token carrying `scope` open this view (put it outermost, under the route).

    A request to it with `Authorization: Bearer <token>` is signed in as the token's user for
    that request (no session), whatever the URL: the token must be valid and carry `scope`
    (under the API too: the mark, not the method's api scope, decides). Without a bearer header
    the view is guarded as any other (session). Inner decorators such as `roles_required` still
    apply, to the token's user."""
    if scope not in SCOPES:
        raise ValueError(f"unknown token scope {scope!r}: use one of {', '.join(SCOPES)}")

    def decorate(view: F) -> F:
        setattr(view, TOKEN_SCOPE_MARK, scope)
        return view

    return decorate


def token_scope_of(endpoint: str | None) -> str | None:
    """The scope a bearer token needs to open `endpoint`, when its view is `@token_scope`."""
    if endpoint is None:
        return None
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return None
    view_class = getattr(view, "view_class", None)
    scope = getattr(view, TOKEN_SCOPE_MARK, None) or getattr(view_class, TOKEN_SCOPE_MARK, None)
    return scope if isinstance(scope, str) else None


def login_required(view: F) -> F:
    """Require a signed-in user (the guard already does, unless the view is `@public`)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return _manager().refuse_anonymous()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[F], F]:
    """Require a signed-in user with one of `roles` (403 otherwise)."""
    if not roles:
        raise TypeError("roles_required needs at least one role, e.g. roles_required('admin')")

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            manager = _manager()
            if not current_user.is_authenticated:
                return manager.refuse_anonymous()
            if current_user.role not in roles:
                return manager.refuse_forbidden(
                    f"this needs the role {' or '.join(roles)}; you are {current_user.role}"
                )
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _manager() -> AuthSite:
    manager = current_app.extensions.get(EXTENSION)
    if manager is None:
        raise RuntimeError("no AuthManager is registered on this app")
    return manager  # type: ignore[no-any-return]


# -- the before_request ----------------------------------------------------------------------
def is_public_endpoint(manager: AuthSite, endpoint: str | None) -> bool:
    """May an anonymous client reach `endpoint`?"""
    if endpoint is None:  # no rule matched: Flask answers 404/405 itself
        return True
    if endpoint == "static" or endpoint.endswith(".static"):
        return True
    if endpoint.startswith(manager.blueprint_name + "."):
        return True
    if endpoint in manager.public_endpoints:
        return True
    view = current_app.view_functions.get(endpoint)
    if view is None:
        return False
    view_class = getattr(view, "view_class", None)
    return bool(getattr(view, PUBLIC_MARK, False) or getattr(view_class, PUBLIC_MARK, False))


def check_request(manager: AuthSite) -> Response | None:
    """The guard: None lets the request through, else the refusal."""
    refusal = refuse_cross_origin(manager)
    if refusal is not None:
        return refusal
    if request.endpoint is not None and request.endpoint.startswith(manager.blueprint_name + "."):
        return None
    is_api = manager.is_api_request()
    bearer = _bearer_token()
    scope = token_scope_of(request.endpoint) if bearer is not None else None
    if bearer is not None and (is_api or scope is not None):
        refusal = _authenticate_token(manager, bearer, scope)
        if refusal is not None:
            return None if is_public_endpoint(manager, request.endpoint) else refusal
        return None
    if is_public_endpoint(manager, request.endpoint):
        return None
    if not current_user.is_authenticated:
        return manager.refuse_anonymous()
    if is_api and request.method not in READ_METHODS and current_user.role != ADMIN:
        return _refuse_viewer_write(manager, current_user)
    return None


def refuse_cross_origin(manager: AuthSite) -> Response | None:
    """403 for an unsafe request a page of another site made the browser send (whatever its
    CSRF token): see `safety.cross_origin_problem`. An API request with a bearer token, or one
    to a `@token_scope` view, carries no ambient credential (a browser never adds one by
    itself; the token is what authenticates it) and is not checked; anywhere else a bearer
    header is ignored by the guard, which goes by the session cookie, so it exempts nothing.
    The standalone console's hub calls it for the consoles it admits."""
    if request.method in READ_METHODS:
        return None
    if _bearer_token() and (
        manager.is_api_request() or token_scope_of(request.endpoint) is not None
    ):
        return None
    trusted = [manager.external_url] if manager.external_url else []
    problem = cross_origin_problem(
        request.headers.get("Sec-Fetch-Site"),
        request.headers.get("Origin"),
        request.host,
        [_origin_of(url) for url in trusted],
    )
    if problem is None:
        return None
    return manager.refuse_forbidden(
        f"this {request.method} was refused because {problem}: pages of other sites may not "
        "change anything here. Reload this site's page and try again from it; behind a proxy "
        "that rewrites the Host header, set [AUTH] EXTERNAL_URL to the site's public address"
    )


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _refuse_viewer_write(manager: AuthSite, user: Any, through: str = "") -> Response:
    return manager.refuse_forbidden(
        f"{user.email} is a {user.role}: viewers may only read through the API{through}; "
        f"an admin can run 'flasker auth user role {user.email} admin'"
    )


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _authenticate_token(
    manager: AuthSite, presented: str, scope: str | None = None
) -> Response | None:
    """Sign the request in with the token, or return the 401/403 refusal. The token needs
    `scope` (a `@token_scope` view's), else the scope of the request's method (the API)."""
    session = manager.db_session()
    models = manager.models
    record = find_token(session, models, presented)
    if record is None:
        return manager.refuse_token("the bearer token is not valid")
    status = record.status()
    if status != "active":
        return manager.refuse_token(f"the bearer token is {status}")
    user = session.get(models.User, record.user_id)
    if user is None or not manager.may_use(user):
        return manager.refuse_token("the bearer token's user may no longer sign in")
    if scope is not None:
        if scope not in record.scope_set:
            return problem_response(
                403,
                f"this token lacks the {scope} scope needed for {request.path} "
                f"(it has: {record.scopes or 'none'}); create one with 'flasker auth token "
                f"create --email {user.email} --scopes {scope}'",
            )
        if scope in ADMIN_SCOPES and user.role != ADMIN:
            return problem_response(
                403,
                f"{user.email} is a {user.role}: a {scope} token works only for an admin; an "
                f"admin can run 'flasker auth user role {user.email} admin'",
            )
    else:
        needed = scope_for(request.method)
        if needed not in record.scope_set:
            return manager.refuse_forbidden(
                f"this token lacks the {needed} scope needed for {request.method} "
                f"(it has: {record.scopes or 'none'})"
            )
        if needed == WRITE_SCOPE and user.role != ADMIN:
            return _refuse_viewer_write(manager, user, ", whatever their token's scopes")
    if note_use(record):
        session.commit()
    _set_request_user(user)
    g.flasker_auth_token = record
    return None


def scoped_token_refusal(manager: AuthSite, scope: str) -> Response | None:
    """Sign this request in with its bearer token for `scope`, or return the 401/403
    refusal (401 as well when it carries no bearer token). For a `@token_scope` view that
    another app serves behind this site's users: the standalone console's hub admits a
    project's `/metrics` with it; the user is `current_user` for this request only."""
    presented = _bearer_token()
    if presented is None:
        return manager.refuse_token("a bearer token is needed")
    return _authenticate_token(manager, presented, scope)


def _set_request_user(user: Any) -> None:
    """Make `user` Flask-Login's `current_user` for this request only, without touching the
    session cookie (Flask-Login 0.6 keeps the request's user in `g._login_user`)."""
    g._login_user = user


def login_url(manager: AuthSite) -> str:
    """The sign-in route, with `next` pointing back at the current request."""
    target = request.full_path if request.query_string else request.path
    return url_for(f"{manager.blueprint_name}.login", next=safe_next(target))


def redirect_to_login(manager: AuthSite) -> Response:
    return redirect(login_url(manager), 302)
