"""Closed by default: once an auth manager is registered, every rule of the app refuses an
anonymous client (pages: a redirect to sign-in; the API: 401 problem+json) unless public."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from werkzeug.routing import IntegerConverter, PathConverter

PROBLEM = "application/problem+json"
#: Public views of the standard site (`@public`, or listed in PUBLIC_ENDPOINTS).
PUBLIC_VIEWS = {"about", "status", "session_plant", "session_read"}


def sample_url(app: Any, rule: Any) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        converter = rule._converters.get(name)
        if isinstance(converter, IntegerConverter):
            values[name] = 1
        elif isinstance(converter, PathConverter) or name == "filename":
            values[name] = "sample.css"
        else:
            values[name] = "1"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def kind_of(rule: Any) -> str:
    endpoint = rule.endpoint
    if endpoint == "static" or endpoint.endswith(".static"):
        return "static"
    if rule.rule.startswith("/auth/"):
        return "auth"
    if endpoint in PUBLIC_VIEWS:
        return "public"
    if rule.rule.startswith("/api/") or rule.rule == "/api":
        return "api"
    return "page"


def assert_api_refusal(response: Any) -> dict[str, Any]:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.mimetype == PROBLEM, response.mimetype
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), response.headers
    body = json.loads(response.get_data(as_text=True))
    assert body["status"] == 401
    assert body.get("title")
    return body


def assert_sent_to_sign_in(response: Any) -> str:
    assert response.status_code in (302, 303), (response.status_code, response.text)
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost"), location
    assert location.path == "/auth/login", location
    return parse_qs(location.query).get("next", [""])[0]


def test_every_non_public_rule_refuses_an_anonymous_client(site: Any) -> None:
    app = site.app
    seen: dict[str, int] = {}
    problems: list[str] = []
    for rule in app.url_map.iter_rules():
        kind = kind_of(rule)
        url = sample_url(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            seen[kind] = seen.get(kind, 0) + 1
            response = site.browser().open(method, url)
            status = response.status_code
            where = f"{method} {url} ({rule.endpoint}, {kind}) -> {status}"
            try:
                if kind == "api":
                    assert_api_refusal(response)
                elif kind == "page":
                    assert assert_sent_to_sign_in(response).startswith(urlsplit(url).path)
                elif kind == "public":
                    assert status == 200, where
                else:  # static files and the auth routes answer, whatever they say
                    assert status < 500, where
                    # flasker 0.1's URLs redirect to today's on purpose (test_views.py)
                    if status in (302, 303) and not rule.endpoint.endswith("_0_1"):
                        assert urlsplit(response.headers["Location"]).path != "/auth/login"
                    assert status != 401, where
            except AssertionError as error:
                problems.append(f"{where}: {error}")
    assert not problems, "\n".join(problems)
    # the walk covered every kind of rule the site has
    assert seen.get("api", 0) >= 5, seen
    assert seen.get("page", 0) >= 8, seen
    assert seen.get("auth", 0) >= 3, seen
    assert seen.get("static", 0) >= 1, seen
    assert seen.get("public", 0) == len(PUBLIC_VIEWS), seen


# -- pages ----------------------------------------------------------------------------------------
def test_a_page_sends_an_anonymous_visitor_to_sign_in_with_next(visitor: Any) -> None:
    assert assert_sent_to_sign_in(visitor.get("/some/page")) == "/some/page"
    assert assert_sent_to_sign_in(visitor.post("/form")) == "/form"


def test_a_json_client_gets_401_on_a_page(visitor: Any) -> None:
    assert_api_refusal(visitor.get("/some/page", headers={"Accept": "application/json"}))


def test_public_views_answer_everyone(visitor: Any) -> None:
    assert visitor.get("/about").text == "about us"
    assert visitor.get("/status").status_code == 200  # listed in PUBLIC_ENDPOINTS


def test_the_sign_in_page_is_public(site: Any, visitor: Any) -> None:
    assert visitor.get("/auth/login").status_code in (302, 303)


# -- the API --------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "PATCH", "DELETE"])
def test_the_api_refuses_anonymous_clients_with_401(site: Any, method: str) -> None:
    url = site.notes if method in ("GET", "POST") else site.notes + "1"
    response = site.browser().open(method, url, json={"text": "hello"})
    assert_api_refusal(response)


@pytest.mark.parametrize("path", ["/api/", "/api/openapi.json", "/api/docs"])
def test_the_api_index_and_documents_are_closed(site: Any, path: str) -> None:
    assert_api_refusal(site.browser().get(path))


def test_a_signed_in_session_reads_the_api(site: Any, visitor: Any) -> None:
    visitor.sign_in(site.allowed_email)
    response = visitor.get(site.notes)
    assert response.status_code == 200, response.text
    assert response.get_json()["data"] == []


def test_a_viewer_session_reads_but_an_admin_session_writes(site: Any) -> None:
    viewer, admin = site.browser(), site.browser()
    viewer.sign_in(site.allowed_email)
    admin.sign_in(site.admin_email)
    refused = viewer.post(site.notes, json={"text": "from a viewer"})
    assert refused.status_code == 403, refused.text
    assert refused.mimetype == PROBLEM
    assert admin.post(site.notes, json={"text": "from an admin"}).status_code == 201
    assert [n["text"] for n in viewer.get(site.notes).get_json()["data"]] == ["from an admin"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("text=forged", "application/x-www-form-urlencoded"), ('{"text": "forged"}', "text/plain")],
    ids=["form", "text/plain"],
)
def test_a_cross_site_form_cannot_write_with_the_session(
    site: Any, visitor: Any, body: str, content_type: str
) -> None:
    """What a cross-site <form> can send (no JSON content type) never writes."""
    visitor.sign_in(site.admin_email)
    response = visitor.post(site.notes, data=body, content_type=content_type)
    assert response.status_code in (400, 403, 415), response.status_code
    assert visitor.get(site.notes).get_json()["data"] == []


CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://sub.localhost"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=["origin", "fetch-site", "null", "same-site"])
def test_a_change_sent_by_another_site_is_refused_whatever_its_token(
    site: Any, visitor: Any, headers: dict[str, str]
) -> None:
    """Regression (issue 10): a page of another site that got hold of a CSRF token (a leak, an
    XSS on a sibling site) could make an admin's browser write; browsers' Origin and
    Sec-Fetch-Site now refuse it first, with a 403 saying why."""
    visitor.sign_in(site.admin_email)
    csrf = {"X-CSRFToken": visitor.csrf_token()}
    response = visitor.post(site.notes, json={"text": "forged"}, headers={**csrf, **headers})
    assert response.status_code == 403, response.text
    assert response.mimetype == PROBLEM
    assert "another site" in response.get_json()["detail"]
    page = visitor.post("/form", data={"csrf_token": csrf["X-CSRFToken"]}, headers=headers)
    assert page.status_code == 403
    assert "another site" in page.text
    assert "EXTERNAL_URL" in page.text
    signed_out = visitor.post("/auth/logout", headers={**csrf, **headers})
    assert signed_out.status_code == 403
    assert visitor.is_signed_in
    assert visitor.get(site.notes).get_json()["data"] == []


def test_a_bearer_header_does_not_exempt_a_page_from_the_origin_check(
    site: Any, visitor: Any
) -> None:
    """Regression (review): pages go by the session cookie whatever the Authorization header
    says, so a cross-site POST with a made-up bearer header (a sibling site's fetch can add
    one) must still be refused; only API requests are authenticated by the token itself."""
    visitor.sign_in(site.admin_email)
    csrf = visitor.csrf_token()
    for bearer in ("Bearer x", "Bearer "):
        headers = {"Authorization": bearer, "Sec-Fetch-Site": "same-site"}
        page = visitor.post("/form", data={"csrf_token": csrf}, headers=headers)
        assert page.status_code == 403, (bearer, page.text)
        assert "another site" in page.text


def test_a_change_from_this_site_or_a_token_passes(site: Any, visitor: Any) -> None:
    """Same origin (by Sec-Fetch-Site, or Origin alone for older browsers) and bearer tokens,
    which no page of another site can make a browser send, are not refused."""
    visitor.sign_in(site.admin_email)
    for headers in (
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"},
        {"Origin": "http://localhost"},
        {},
    ):
        response = visitor.post(site.notes, json={"text": "mine"}, headers=headers)
        assert response.status_code == 201, (headers, response.text)
    site.add_user("robot@example.com", role="admin")
    token = site.create_token("robot@example.com", "api:read,api:write")
    robot = site.app.test_client()
    bearer = {"Authorization": f"Bearer {token}", "Origin": "https://tools.example"}
    assert robot.post(site.notes, json={"text": "robot"}, headers=bearer).status_code == 201
    assert len(visitor.get(site.notes).get_json()["data"]) == 4


def test_a_bearer_token_does_not_open_pages(site: Any, visitor: Any) -> None:
    site.add_user("robot@example.com", role="admin")
    token = site.create_token("robot@example.com", "api:read")
    response = visitor.get("/some/page", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (302, 303, 401)


def test_an_unknown_url_is_not_a_way_in(site: Any, visitor: Any) -> None:
    response = visitor.get("/no/such/page")
    assert response.status_code in (302, 303, 404)
    response = visitor.get("/api/no-such-collection/")
    assert response.status_code in (401, 404)
