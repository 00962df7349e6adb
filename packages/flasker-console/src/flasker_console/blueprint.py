"""What every console page shares: its blueprint (templates, static files), CSRF on unsafe
requests, the htmx helper and the error page.

Unsafe requests need a CSRF token (the form's hidden field, or the `X-CSRFToken` header that
`<body hx-headers>` adds to every htmx request), checked by Flask-WTF's `CSRFProtect` (over
HTTPS its `WTF_CSRF_SSL_STRICT` also wants a Referer from this host), for the console's
blueprint only (`flasker.csrf`). The mounted console (views.py) and the standalone console's root
(standalone.py) build their blueprints here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_htmx import HTMX
from werkzeug.exceptions import HTTPException

from flasker.csrf import CSRFError as TokenRefused
from flasker.csrf import check_csrf
from flasker.exceptions import FlaskerError

from ._site import EXTENSION, console_cfg_path
from .exceptions import ConsoleError, CSRFError

logger = logging.getLogger(__name__)

BLUEPRINT_NAME = "flasker_console"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
htmx = HTMX()


def console_blueprint(
    context: Callable[[], dict[str, Any]], on_error: Callable[[Exception], Any]
) -> Blueprint:
    """The console's blueprint without its pages: templates, static files, CSRF on unsafe
    requests, the template context and the error page (the standalone root shares it)."""
    blueprint = Blueprint(
        BLUEPRINT_NAME,
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/_static",
    )
    blueprint.before_request(_protect)
    blueprint.context_processor(context)
    blueprint.register_error_handler(Exception, on_error)
    return blueprint


# -- request guards ---------------------------------------------------------------------------
def _protect() -> None:
    """CSRF for every unsafe request of the console (Flask-WTF's `CSRFProtect.protect`)."""
    if request.method in SAFE_METHODS:
        return
    if not current_app.secret_key:
        raise ConsoleError(
            f"changes from the console need [APP] SECRET_KEY in {console_cfg_path()}: it signs the "
            "CSRF tokens that protect them (write SECRET_KEY = ${SECRET_KEY} and set it)"
        )
    try:
        check_csrf()
    except TokenRefused as error:
        reason = str(error.description or "CSRF check failed").rstrip(".")
        raise CSRFError(f"{reason}: reload the page and try again") from None


def error_response(error: Exception, page: str) -> Any:
    """Expected errors as an error page (`page`, or the partial for htmx) with their status;
    never a traceback."""
    if isinstance(error, HTTPException):
        return error
    manager = current_app.extensions.get(EXTENSION)
    project = getattr(manager, "project", None)
    unavailable = project.unavailable(error) if project is not None else None
    if unavailable is not None:
        # the database or the broker is down, not the console: 503, its retry, no traceback
        template = "flasker_console/partials/error.html" if htmx else page
        body = render_template(template, message=unavailable.description, status=503)
        return body, 503, {"Retry-After": str(unavailable.retry_after_seconds)}
    if isinstance(error, ConsoleError):
        status, message = error.status, str(error)
    elif isinstance(error, FlaskerError):
        status, message = 500, str(error)
    else:
        logger.exception("console error on %s %s", request.method, request.path)
        status = 500
        message = (
            f"the console failed ({type(error).__name__}); the details are in the server's log"
        )
    template = "flasker_console/partials/error.html" if htmx else page
    return render_template(template, message=message, status=status), status
