"""Refusals as `application/problem+json` (RFC 9457), for API clients of the guard.

The document and its media type are flasker's (`flasker.problems`, shared with flasker-api);
a refusal here is never cached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flasker.problems import PROBLEM_MIMETYPE
from flasker.problems import problem_response as _problem_response

if TYPE_CHECKING:
    from flask import Response

__all__ = ["PROBLEM_MIMETYPE", "problem_response"]


def problem_response(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    """A problem document with `status` and `detail`, never cached."""
    response = _problem_response(status, detail, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response
