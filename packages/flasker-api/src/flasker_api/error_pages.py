"""HTTP errors under the API's URL prefix answer problem+json; elsewhere, nothing changes.

Two cases, each through Flask's public hooks:

- an error raised while an API view runs (an `abort`, a body too large, an unhandled
  exception's 500, the 503 of an unavailable database) reaches the API blueprint's own
  handler of `HTTPException`, which Flask asks before the app's;
- a URL under the prefix that no route matches (404), or a method a route does not allow (405,
  with `Allow`), belongs to no blueprint: an app-wide `before_request` answers it, for every
  API prefix of the app, before Flask would raise the routing error.

The app's own handlers keep every other path::

    install_error_pages(app, blueprint, "/api")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import request
from werkzeug.exceptions import HTTPException, InternalServerError

from .problems import http_problem

if TYPE_CHECKING:
    from flask import Blueprint, Flask, Response

#: Where the app keeps the URL prefixes of its APIs (one per APIManager).
EXTENSION = "flasker_api_error_pages"


def install_error_pages(app: Flask, blueprint: Blueprint, prefix: str) -> None:
    """404/405/415/500 (every HTTP error) under `prefix` answer problem+json."""
    blueprint.register_error_handler(HTTPException, problem_for)
    prefixes: list[str] | None = app.extensions.get(EXTENSION)
    if prefixes is not None:
        prefixes.append(prefix)
        return
    prefixes = app.extensions[EXTENSION] = [prefix]

    def routing_error() -> Response | None:
        error = request.routing_exception
        if not isinstance(error, HTTPException) or (error.code or 0) < 400:
            return None  # a matched route, or a redirect (`/api/houses` → `/api/houses/`)
        path = request.path
        if any(path == p or path.startswith(p + "/") or not p for p in prefixes):
            return problem_for(error)
        return None

    app.before_request(routing_error)


def problem_for(error: HTTPException) -> Response:
    """The problem+json answer for an HTTP error (a 500 says no more than that it is logged)."""
    if isinstance(error, InternalServerError):
        return http_problem(500, "the server failed to answer; the error is logged")
    return http_problem(error.code or 500, error.description, dict(error.get_headers()))
