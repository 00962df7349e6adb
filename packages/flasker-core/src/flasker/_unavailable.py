"""Answering a service outage in a Flask app: one way for the database and the broker.

`flasker.db.unavailable_error` and `flasker._broker_errors.broker_unavailable` tell an outage
from a bug; these two helpers answer it (503 through the app's handler of HTTP errors), or hand
any other error of the same class on as if flasker's handler were not there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

    from .exceptions import ServiceUnavailableError


def answer(app: Flask, unavailable: ServiceUnavailableError) -> Any:
    """The 503 response for `unavailable`: problem+json under the API, else werkzeug's page."""
    return app.handle_http_exception(unavailable.http_exception())


def pass_on(app: Flask, error: Exception, skip: set[type[BaseException]]) -> Any:
    """Hand `error` to the app's handler of a wider class (Exception, say) that is not one of
    flasker's own (`skip`), as Flask would have without them; else re-raise it (a 500, logged
    by Flask)."""
    handlers = app.error_handler_spec.get(None, {}).get(None, {})
    for cls in type(error).__mro__[1:]:
        if cls in handlers and cls not in skip:
            return app.ensure_sync(handlers[cls])(error)
    raise error
