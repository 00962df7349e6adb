"""CSRF for an extension's own blueprint: Flask-WTF's `CSRFProtect`, not app-wide.

flasker-auth (sign-out) and the console protect their blueprints' unsafe requests with
Flask-WTF's check: the token comes from the form field `csrf_token` or the `X-CSRFToken`
header (htmx sends it from `<body hx-headers>`), and over HTTPS `WTF_CSRF_SSL_STRICT` also
wants a Referer on this host. `CSRFProtect.init_app` is not called: it would check every route
of the app, the app's own forms and the API's bearer-token requests included, which are the
app's business (an app may still call `CSRFProtect(app)` itself; its settings win)::

    blueprint.before_request(check_csrf)   # flask_wtf.csrf.CSRFError (400) when refused
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_wtf.csrf import CSRFError, CSRFProtect

__all__ = ["CSRFError", "check_csrf"]

#: One check for every app: `protect()` keeps no state of its own (the token is in the session).
_csrf = CSRFProtect()
#: What `CSRFProtect.init_app` would set, and `protect()` reads; an app's own values win.
CSRF_DEFAULTS: dict[str, Any] = {
    "WTF_CSRF_METHODS": {"POST", "PUT", "PATCH", "DELETE"},
    "WTF_CSRF_FIELD_NAME": "csrf_token",
    "WTF_CSRF_HEADERS": ["X-CSRFToken", "X-CSRF-Token"],
    "WTF_CSRF_SSL_STRICT": True,
}


def check_csrf() -> None:
    """Refuse an unsafe request without a valid CSRF token: `CSRFError` (a 400 whose
    `description` says why, e.g. "The CSRF token is missing."). Safe methods pass."""
    for key, value in CSRF_DEFAULTS.items():
        current_app.config.setdefault(key, value)
    _csrf.protect()
