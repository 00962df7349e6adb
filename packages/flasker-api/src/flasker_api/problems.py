"""Errors as `application/problem+json` (RFC 9457), each naming what the client got wrong.

Views raise `ApiProblem`; the manager turns it (and Flask's own 404/405/415/500) into a response
under the API's URL prefix, so every answer of the API is JSON and no traceback reaches a
client::

    raise ApiProblem(400, "unknown query parameter", errors=[
        {"parameter": "nope", "message": "allowed: sort, limit, offset, ..."},
    ])

The body is `{"type", "title", "status", "detail", "errors": [{"parameter" | "pointer",
"message"}]}`: `parameter` names a query parameter, `pointer` is a JSON pointer into the request
body (`/address`, `/cats/1`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flasker.problems import PROBLEM_MIMETYPE, problem_body, problem_response, status_phrase

from .exceptions import APIError

if TYPE_CHECKING:
    from flask import Response

__all__ = [
    "PROBLEM_MIMETYPE",
    "ApiProblem",
    "ProblemCollector",
    "bad_field",
    "bad_parameter",
    "http_problem",
]


class ApiProblem(APIError):
    """An answer other than success, with its HTTP status (like click's `exit_code`)."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: Iterable[Mapping[str, Any]] = (),
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = [dict(e) for e in errors]
        self.title = title or status_phrase(status)
        self.headers = dict(headers or {})

    def to_dict(self) -> dict[str, Any]:
        return problem_body(self.status, self.detail, self.errors, title=self.title)

    def response(self) -> Response:
        return problem_response(
            self.status, self.detail, self.errors, title=self.title, headers=self.headers
        )


def bad_parameter(parameter: str, message: str, status: int = 400) -> ApiProblem:
    return ApiProblem(
        status,
        f"query parameter {parameter!r}: {message}",
        [{"parameter": parameter, "message": message}],
    )


def bad_field(pointer: str, message: str, status: int = 422) -> ApiProblem:
    return ApiProblem(
        status, f"{pointer or 'the body'}: {message}", [{"pointer": pointer, "message": message}]
    )


class ProblemCollector:
    """Collects every problem of a request, so a client fixes them all in one round trip."""

    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def parameter(self, parameter: str, message: str) -> None:
        self.errors.append({"parameter": parameter, "message": message})

    def pointer(self, pointer: str, message: str) -> None:
        self.errors.append({"pointer": pointer, "message": message})

    def raise_if_any(self, status: int, what: str) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            error = self.errors[0]
            where = error.get("parameter") or error.get("pointer") or "the body"
            detail = f"{what} {where!r}: {error['message']}"
        else:
            detail = f"{len(self.errors)} problems with the {what}s (see errors)"
        raise ApiProblem(status, detail, self.errors)


def http_problem(status: int, description: str | None, headers: Mapping[str, str] = {}) -> Response:
    """A problem response for one of werkzeug's HTTP exceptions (404, 405, 415...)."""
    kept = {k: v for k, v in headers.items() if k.lower() in ("allow", "retry-after")}
    detail = description or status_phrase(status)
    return ApiProblem(status, detail, headers=kept).response()
