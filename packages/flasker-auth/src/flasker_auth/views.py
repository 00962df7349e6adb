"""The auth blueprint: sign-in, the provider's callback, sign-out and the development link.

- `GET  /auth/login?next=/path`: keeps a safe `next`, then redirects to the provider (or, with
  no provider configured, explains how to sign in during development).
- `GET  /auth/callback`: verifies the provider's answer (oidc.py), applies the allow-list,
  stores the user, rotates the session (cleared, then `login_user`) and goes to `next`.
- `POST /auth/logout`: CSRF-checked (Flask-WTF's `CSRFProtect`, for this blueprint only: the
  token as a form field or `X-CSRFToken`), clears the session and moves the user's session
  generation on, so every cookie issued to them before (a copy included) stops working. `GET`
  shows a confirmation form, so a link or a prefetch never signs out.
- `GET  /auth/dev/<secret>`: the one-time development link (devlink.py).

Every failure renders a page with a 400/403/404/502 status and a sentence saying what to do;
no traceback reaches the browser.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user  # type: ignore[import-untyped]  # flask-login ships no type information

from flasker._net import is_loopback_address
from flasker.csrf import CSRFError, check_csrf

from ._site import SESSION_VERSION_KEY
from .devlink import DEV_NAME, consume_link
from .exceptions import SignInError
from .models import utcnow
from .oidc import is_verified
from .policy import ADMIN, normalize_email
from .safety import safe_next

if TYPE_CHECKING:
    from flask import Response
    from werkzeug.wrappers import Response as BaseResponse

    from ._site import AuthSite

logger = logging.getLogger(__name__)

NEXT_KEY = "flasker_auth_next"


def page(
    manager: AuthSite,
    title: str,
    *paragraphs: str,
    status: int = 200,
    command: str | None = None,
    link: dict[str, str] | None = None,
    sign_out: str | None = None,
    after: tuple[str, ...] = (),
) -> tuple[str, int, dict[str, str]]:
    html = render_template(
        "flasker_auth/message.html",
        title=title,
        paragraphs=paragraphs,
        command=command,
        after=after,
        link=link,
        sign_out=sign_out,
        blueprint=manager.blueprint_name,
        site_name=manager.project.config.name if manager.project is not None else "Sign-in",
    )
    return html, status, {"Cache-Control": "no-store"}


def _moved_to(manager: AuthSite, endpoint: str) -> Callable[[], BaseResponse]:
    """A view redirecting a flasker 0.1 URL to today's, with its query string."""

    def moved() -> BaseResponse:
        query = request.query_string.decode("latin-1")
        target = url_for(f"{manager.blueprint_name}.{endpoint}")
        return redirect(f"{target}?{query}" if query else target)

    return moved


def make_blueprint(manager: AuthSite) -> Blueprint:
    blueprint = Blueprint(
        manager.blueprint_name,
        __name__,
        url_prefix=manager.url_prefix or None,
        template_folder="templates",
    )

    # unsafe requests (sign-out) carry Flask-WTF's token; CSRFError (400) otherwise
    blueprint.before_request(check_csrf)

    @blueprint.errorhandler(CSRFError)
    def csrf_refused(error: CSRFError) -> Any:
        logger.info("sign-out refused: %s", error.description)
        return page(
            manager,
            "Sign-out not confirmed",
            "The sign-out form expired or did not come from this site.",
            link={"url": url_for(f"{manager.blueprint_name}.logout"), "text": "Try again"},
            status=400,
        )

    @blueprint.get("/login")
    def login() -> Any:
        target = safe_next(request.args.get("next"))
        if current_user.is_authenticated:
            return redirect(target)
        if manager.oidc is None:
            if manager.dev_login_active:
                manager.announce_dev_link()
                return page(
                    manager,
                    "Sign in",
                    "During development this site signs you in with a one-time link: the "
                    "terminal running 'flasker server' has just printed it, on a line like "
                    "this one:",
                    command=f"flasker: sign in at {request.host_url}{manager.url_prefix[1:]}/dev/…",
                    after=(
                        "Open that link in this browser. It works once, within ten minutes; "
                        "reload this page for a new one.",
                    ),
                )
            return page(
                manager,
                "Sign-in is not set up",
                "This project has no sign-in provider configured (CLIENT_ID in [AUTH]).",
                "During development, 'flasker server --debug' on this machine (or "
                "'flasker server' with DEV_LOGIN = true in [AUTH]) prints a one-time sign-in "
                "link for a local admin; open it in this browser.",
                status=503,
            )
        try:
            redirect_uri = manager.callback_url()
        except SignInError as error:
            return _failure(manager, error)
        session[NEXT_KEY] = target
        try:
            return manager.oidc.start(redirect_uri)
        except SignInError as error:
            return _failure(manager, error)

    @blueprint.get("/callback")
    def callback() -> Any:
        if manager.oidc is None:
            return page(manager, "Sign-in is not set up", "No provider is configured.", status=404)
        try:
            claims = manager.oidc.finish()
        except SignInError as error:
            return _failure(manager, error)
        email = normalize_email(str(claims.get("email") or ""))
        if email is None:
            return _failure(manager, SignInError("the provider gave no email address", 403))
        if not is_verified(claims):
            return page(
                manager,
                "Email address not verified",
                f"The provider has not verified {email}, so it cannot be used to sign in.",
                "Verify the address with your provider, then sign in again.",
                status=403,
                link=_retry_link(manager),
            )
        user = manager.find_user(email)
        if not manager.policy.allows(email) and not (user is not None and user.invited):
            logger.info("sign-in refused for %s: not on the allow-list", email)
            return page(
                manager,
                "Not allowed",
                f"You signed in as {email}, but this address is not allowed to use this site.",
                "Ask an administrator to add it to AUTHORIZED_EMAILS (or its domain to "
                "AUTHORIZED_DOMAINS) in the [AUTH] section, or to run:",
                status=403,
                command=f"flasker auth user add {email}",
                link=_retry_link(manager, "Sign in with another account"),
            )
        target = safe_next(session.get(NEXT_KEY))
        user = manager.record_sign_in(email, claims.get("name"))
        _rotate_and_login(user)
        return redirect(target)

    @blueprint.route("/logout", methods=["GET", "POST"])
    def logout() -> Any:
        if request.method != "POST":  # GET and HEAD (Flask answers HEAD with this view)
            if not current_user.is_authenticated:
                return page(
                    manager, "Signed out", "You are not signed in.", link=_retry_link(manager)
                )
            return page(
                manager,
                "Sign out?",
                f"You are signed in as {current_user.email}.",
                sign_out="Sign out",
            )
        # the blueprint's check_csrf has checked the token
        user = current_user._get_current_object() if current_user.is_authenticated else None
        if isinstance(user, manager.models.User):
            user.end_sessions()  # this cookie, and any copy of it, is now worthless
            manager.db_session().commit()
        logout_user()
        session.clear()
        return page(manager, "Signed out", "You are signed out.", link=_retry_link(manager))

    # flasker 0.1's URLs, so a 0.1 project's templates and bookmarks keep working.
    for old_path, endpoint in (
        ("/sign_in", "login"),
        ("/sign_out", "logout"),
        ("/oauth2callback", "callback"),
    ):
        blueprint.add_url_rule(
            old_path, f"{endpoint}_0_1", _moved_to(manager, endpoint), methods=["GET"]
        )

    @blueprint.get("/dev/<secret>")
    def dev_login(secret: str) -> Any:
        not_found = page(manager, "Not found", "There is nothing here.", status=404)
        if not manager.dev_login_active or not _from_loopback():
            return not_found
        models = manager.models
        db = manager.db_session()
        email = consume_link(db, models, secret)
        db.commit()
        if email is None:
            return page(
                manager,
                "Link used or expired",
                "Each development sign-in link works once, for ten minutes.",
                "Open the sign-in page: the terminal running 'flasker server' prints a new one.",
                status=404,
                link=_retry_link(manager),
            )
        user = manager.record_sign_in(email, DEV_NAME, role=ADMIN)
        _rotate_and_login(user)
        return redirect(url_for_root())

    return blueprint


def _rotate_and_login(user: Any) -> None:
    """A new session for the signed-in user: nothing set before sign-in survives it, so a
    session planted by someone else (fixation) is worthless. The user's session generation
    goes in with it: sign-out moves it on, which ends this session even where the cookie was
    copied."""
    session.clear()
    login_user(user, remember=False, fresh=True)
    session[SESSION_VERSION_KEY] = user.session_version
    session["flasker_auth_signed_in"] = utcnow().isoformat()


def url_for_root() -> str:
    """The app's root (behind a SCRIPT_NAME prefix too)."""
    return (request.script_root or "") + "/"


def _from_loopback() -> bool:
    if any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-Ip")):
        return False
    return is_loopback_address(request.remote_addr)


def _retry_link(manager: AuthSite, text: str = "Sign in") -> dict[str, str]:
    return {"url": url_for(f"{manager.blueprint_name}.login"), "text": text}


def _failure(manager: AuthSite, error: SignInError) -> Response | Any:
    titles = {403: "Sign-in refused", 502: "Sign-in provider unavailable"}
    return page(
        manager,
        titles.get(error.status, "Sign-in failed"),
        error.detail[:1].upper() + error.detail[1:] + ".",
        status=error.status,
        link=_retry_link(manager, "Start again"),
    )
