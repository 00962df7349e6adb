"""Answers as `application/problem+json` (RFC 9457), built in one place.

flasker-api answers every error of the API this way (its `ApiProblem` adds the list of
`errors`), and flasker-auth refuses API clients this way (401 with `WWW-Authenticate`, 403);
both build the response here, so the media type and the body's shape cannot drift apart::

    return problem_response(403, "viewers may read, not change", headers={"X": "y"})

The body is `{"type": "about:blank", "title", "status", "detail"}`, with `"errors"` when
there are any (each names a `parameter` or a JSON `pointer`, and a `message`).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from flask import Response

from .json import dumps

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

#: The media type of a problem document (RFC 9457).
PROBLEM_MIMETYPE = "application/problem+json"


def status_phrase(status: int) -> str:
    """The status's reason phrase ("Not Found"), the default title of a problem."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(
    status: int,
    detail: str,
    errors: Iterable[Mapping[str, Any]] = (),
    *,
    title: str | None = None,
) -> dict[str, Any]:
    """The problem document: type, title (the status's phrase unless given), status, detail,
    and `errors` when there are any."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title or status_phrase(status),
        "status": status,
        "detail": detail,
    }
    listed = [dict(error) for error in errors]
    if listed:
        body["errors"] = listed
    return body


def problem_response(
    status: int,
    detail: str,
    errors: Iterable[Mapping[str, Any]] = (),
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A `Response` carrying the problem document, with `headers` added."""
    body = problem_body(status, detail, errors, title=title)
    response = Response(dumps(body), status, mimetype=PROBLEM_MIMETYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
