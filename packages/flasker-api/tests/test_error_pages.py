"""HTTP errors under the API's prefix answer problem+json; the app's own pages keep its own
handlers (the API installs nothing that answers for them)."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.exceptions import HTTPException

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def site(standard_api: Any) -> Any:
    """The standard project, whose app has its own handler of HTTP errors (set before any
    request, as Flask requires)."""

    @standard_api.app.errorhandler(HTTPException)
    def own_page(error: HTTPException) -> tuple[str, int]:
        return f"the app's own {error.code} page", error.code or 500

    return standard_api


def test_an_unknown_url_elsewhere_keeps_the_apps_handler(site: Any) -> None:
    response = site.client.get("/nowhere")
    assert response.status_code == 404
    assert response.get_data(as_text=True) == "the app's own 404 page"


def test_an_unknown_url_under_the_prefix_is_a_problem(site: Any) -> None:
    response = site.client.get("/api/nowhere/at/all")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert response.get_json()["status"] == 404


def test_a_method_the_route_does_not_allow_is_a_problem_with_allow(site: Any) -> None:
    response = site.client.delete("/api/")
    assert response.status_code == 405
    assert response.mimetype == PROBLEM
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_a_missing_slash_still_redirects(site: Any) -> None:
    response = site.client.get("/api/houses")
    assert response.status_code == 308
    assert response.headers["Location"].endswith("/api/houses/")


def test_an_error_inside_an_api_view_is_a_problem(site: Any) -> None:
    response = site.client.get("/api/docs?asset=nope.js")  # the docs page's abort(404)
    assert response.status_code == 404
    assert response.mimetype == PROBLEM
