"""Every URL rule of the bundled example, every method, as anonymous, viewer and admin.

The example (`examples/houses`: its pages, the API, flasker-auth and the mounted console) is
started with its sign-in pointed at the real test OpenID Connect provider; the walk fills
each rule's path arguments with real values (a house, a cat, a task id, a static file) and
asserts what an attacker probing the site would see:

- anonymous: a page is a 302 to the sign-in page, the API a 401 problem+json, except for the
  endpoints declared public (static files and the sign-in routes themselves);
- viewer: never a success (2xx or a redirect after a change) for an unsafe method on the
  console or the API, even with a valid CSRF token;
- every redirect stays on the site;
- nobody ever gets a 500, and a refused request (4xx, or the anonymous redirect) changes
  nothing: not the cfg file, not a row of any table, not the task queue.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from werkzeug.routing import Rule

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROBLEM = "application/problem+json"

#: What an anonymous visitor may open on the example: static files and the sign-in routes.
PUBLIC = {
    "static",
    "flasker_assets.static",
    "flasker_console.static",
    "flasker_auth.login",
    "flasker_auth.callback",
    "flasker_auth.logout",
    "flasker_auth.dev_login",
    # flasker 0.1's sign-in URLs: redirects to the three above
    "flasker_auth.login_0_1",
    "flasker_auth.callback_0_1",
    "flasker_auth.logout_0_1",
}

#: Path arguments by name: rows the example seeds, an unknown task id, a wrong dev link.
VALUES = {
    "key": {"api.houses": "1", "api.cats": "Felix"},  # by the endpoint's model
    "position": "0",
    "task_id": str(uuid.UUID(int=7)),
    "secret": "not-a-real-link",
}


def static_file(app: Any, endpoint: str) -> str:
    """A file that exists in the static folder behind `endpoint` (or a missing one)."""
    name = endpoint.rpartition(".")[0]
    owner = app.blueprints[name] if name else app
    folder = owner.static_folder
    if folder and os.path.isdir(folder):
        for base, _dirs, files in sorted(os.walk(folder)):
            for file in sorted(files):
                return Path(base, file).relative_to(folder).as_posix()
    return "missing.css"


def path_of(app: Any, rule: Rule) -> str:
    values: dict[str, str] = {}
    for argument in rule.arguments:
        if argument == "filename":
            values[argument] = static_file(app, rule.endpoint)
            continue
        value = VALUES[argument]
        if isinstance(value, dict):
            value = value[rule.endpoint.partition("_")[0]]
        values[argument] = value
    with app.test_request_context():
        return str(rule.build(values, append_unknown=False)[1])


def walk(app: Any) -> Iterator[tuple[str, str, str]]:
    """(endpoint, method, path) for every rule and method; what changes most comes last:
    DELETEs, then signing out (so the same client walks every other combination signed in)."""
    combos = []
    for rule in app.url_map.iter_rules():
        path = path_of(app, rule)
        for method in sorted(rule.methods or ()):
            combos.append((rule.endpoint, method, path))

    def order(combo: tuple[str, str, str]) -> tuple[bool, bool, tuple[str, str, str]]:
        endpoint, method, _ = combo
        signs_out = endpoint == "flasker_auth.logout" and method == "POST"
        return signs_out, method == "DELETE", combo

    return iter(sorted(combos, key=order))


def send(client: Any, method: str, path: str, token: str | None) -> Any:
    headers = {"X-CSRFToken": token} if token else {}
    if path.startswith("/api/") and method in UNSAFE:
        return client.open(path, method=method, json={}, headers=headers)
    return client.open(path, method=method, headers=headers)


def is_change_surface(path: str) -> bool:
    return path.startswith(("/console/", "/api/"))


@pytest.fixture(scope="module")
def walked(houses: Any) -> dict[str, list[tuple[str, str, str, int]]]:
    """The walk for each role: (endpoint, method, path, status) of every request sent, after
    asserting on every one of them (one walk per role for the whole module: ~150 requests)."""
    results: dict[str, list[tuple[str, str, str, int]]] = {}
    for role, email in (("anonymous", None), ("viewer", houses.viewer), ("admin", houses.admin)):
        client = houses.browser(email)
        token = houses.csrf_token(client) if email else None
        rows = []
        failures = []
        for endpoint, method, path in walk(houses.app):
            before = houses.state()
            response = send(client, method, path, token)
            status = response.status_code
            rows.append((endpoint, method, path, status))
            where = f"{role} {method} {path} ({endpoint}) → {status}"
            body = response.get_data(as_text=True)
            response.close()
            if status >= 500:
                failures.append(f"{where}: {body[:300]}")
                continue
            if "Traceback" in body:
                failures.append(f"{where}: a traceback reached the client")
            refused = status >= 400 or (role == "anonymous" and endpoint not in PUBLIC)
            if refused and houses.state() != before:
                failures.append(f"{where}: refused, yet something changed")
            failures.extend(check(role, endpoint, method, path, response, where))
        results[role] = rows
        assert not failures, "\n".join(failures)
    return results


def check(role: str, endpoint: str, method: str, path: str, response: Any, where: str) -> list[str]:
    """What `role` must see for this request (an empty list when it does)."""
    status = response.status_code
    for header in ("Location", "HX-Redirect"):
        target = urlsplit(response.headers.get(header, "/"))
        if endpoint == "flasker_auth.login" and target.path == "/authorize":
            continue  # the one way off the site: to the sign-in provider
        if target.netloc not in ("", "localhost") or not target.path.startswith("/"):
            return [f"{where}: {header} leaves the site: {response.headers[header]!r}"]
    if role == "anonymous" and endpoint not in PUBLIC:
        if path.startswith("/api/"):
            if status != 401 or response.mimetype != PROBLEM:
                return [f"{where}: expected a 401 {PROBLEM}, got {response.mimetype}"]
            if not response.headers.get("WWW-Authenticate", "").startswith("Bearer "):
                return [f"{where}: no WWW-Authenticate: Bearer"]
            return []
        location = urlsplit(response.headers.get("Location", ""))
        if status != 302 or location.path != "/auth/login":
            return [f"{where}: expected a 302 to /auth/login, got {location.path!r}"]
        return []
    if role == "viewer" and method in UNSAFE and is_change_surface(path) and status < 400:
        return [f"{where}: a viewer changed something"]
    return []


def test_every_rule_method_and_role_is_walked(houses: Any, walked: dict[str, Any]) -> None:
    rules = list(houses.app.url_map.iter_rules())
    combinations = sum(len(rule.methods or ()) for rule in rules)
    assert len(rules) >= 45  # the example, the API, sign-in and the console
    for role in ("anonymous", "viewer", "admin"):
        assert len(walked[role]) == combinations
        assert {row[0] for row in walked[role]} == {rule.endpoint for rule in rules}


def test_only_declared_endpoints_are_public(houses: Any, walked: dict[str, Any]) -> None:
    """An anonymous visitor got an answer other than the sign-in wall only where declared."""
    opened = {
        endpoint
        for endpoint, _method, path, status in walked["anonymous"]
        if not (status == 401 and path.startswith("/api/")) and status != 302
    }
    assert opened <= PUBLIC
    static = [row for row in walked["anonymous"] if row[0] == "flasker_console.static"]
    assert {status for _e, method, _p, status in static if method == "GET"} == {200}


def test_a_viewer_reads_the_console_and_the_api(walked: dict[str, Any]) -> None:
    """The walk is not all refusals: a viewer reads every page (the test can fail)."""
    gets = {(e, s) for e, m, p, s in walked["viewer"] if m == "GET" and is_change_surface(p)}
    assert ("flasker_console.overview", 200) in gets
    assert ("flasker_console.config", 200) in gets
    assert ("api.houses_collection", 200) in gets
    refused = [s for e, m, p, s in walked["viewer"] if m in UNSAFE and is_change_surface(p)]
    assert len(refused) >= 20
    assert set(refused) <= {400, 403, 404, 405, 409, 422}


def test_an_admin_changes_what_a_viewer_could_not(walked: dict[str, Any]) -> None:
    """The same unsafe requests, from an admin with a token, reach the views (no 403)."""
    admin = {(e, m): s for e, m, p, s in walked["admin"] if m in UNSAFE and is_change_surface(p)}
    assert admin[("api.houses_item", "DELETE")] == 204
    assert 403 not in admin.values()
