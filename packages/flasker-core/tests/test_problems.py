"""flasker.problems: the one builder of RFC 9457 answers (flasker-api's and flasker-auth's)."""

from __future__ import annotations

import json

from flasker.problems import PROBLEM_MIMETYPE, problem_body, problem_response


def test_the_body_names_the_status_and_what_is_wrong() -> None:
    assert problem_body(404, "no dog 7") == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no dog 7",
    }


def test_errors_and_a_title_of_ones_own() -> None:
    errors = [{"parameter": "limit", "message": "at most 100"}]
    body = problem_body(400, "query parameter 'limit': at most 100", errors, title="Bad limit")
    assert body["title"] == "Bad limit"
    assert body["errors"] == errors
    assert body["errors"] is not errors


def test_an_unknown_status_is_titled_error() -> None:
    assert problem_body(599, "odd")["title"] == "Error"


def test_the_response_carries_the_problem_media_type_and_headers() -> None:
    response = problem_response(401, "sign in", headers={"WWW-Authenticate": 'Bearer realm="x"'})
    assert PROBLEM_MIMETYPE == "application/problem+json"
    assert response.status_code == 401
    assert response.mimetype == PROBLEM_MIMETYPE
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="x"'
    assert json.loads(response.get_data()) == problem_body(401, "sign in")
