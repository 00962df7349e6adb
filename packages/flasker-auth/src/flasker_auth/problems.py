"""Refusals as `application/problem+json` (RFC 9457), for API clients of the guard."""

from __future__ import annotations

from flask import Response

from flasker.json import dumps

PROBLEM_MIMETYPE = "application/problem+json"


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """A problem document with `status` and `detail`, never cached."""
    title = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Error")
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    response = Response(dumps(body), status, mimetype=PROBLEM_MIMETYPE)
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response
