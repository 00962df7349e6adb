"""Every unsafe console request, forged: without a CSRF token, and from a page of another site.

On the bundled example signed in as an admin (flasker-auth, the real test OpenID Connect
provider), each of the console's POST endpoints gets the form a browser would submit, one that
would change something if accepted (save the cfg, send a task, create a house through Try-it,
scaffold a project...). Without a valid token it is a 400 that says to reload the page; with a
valid token but sent by another site (`Origin`, `Sec-Fetch-Site`) a 403 from flasker-auth's
guard. Either way nothing changes: not the cfg, not a row, not the task queue. The same form
from the console's own page does change things, so these tests can fail.

The example's own forms (`/census`, `/adopt`, `/fail`) and the API used with the session
cookie are checked the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

SAME_ORIGIN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
CROSS_SITE = {
    "origin": {"Origin": "https://evil.example"},
    "fetch-site": {"Sec-Fetch-Site": "cross-site"},
    "same-site": {"Sec-Fetch-Site": "same-site", "Origin": "http://evil.localhost"},
    "null-origin": {"Origin": "null"},
    "other-port": {"Origin": "http://localhost:8666"},
}
CONSOLE_POSTS = [
    "config_post",
    "config_validate",
    "config_raw_post",
    "config_raw_validate",
    "tasks_send",
    "tasks_retry",
    "tasks_revoke",
    "tasks_beat_run",
    "tasks_limits",
    "workers_pool",
    "workers_consumer_add",
    "workers_consumer_cancel",
    "workers_shutdown",
    "endpoints_try",
    "projects_new",
]


@pytest.fixture(scope="module")
def admin(houses: Any) -> Any:
    return houses.browser(houses.admin)


@pytest.fixture
def original_cfg(houses: Any) -> Iterator[str]:
    """The cfg text, written back after the test (a control request may save it)."""
    text = houses.cfg.read_text(encoding="utf-8")
    yield text
    houses.cfg.write_text(text, encoding="utf-8")


def test_every_console_post_is_covered(houses: Any, admin: Any) -> None:
    posted = {
        rule.endpoint.partition(".")[2]
        for rule in houses.app.url_map.iter_rules()
        if rule.endpoint.startswith("flasker_console.") and "POST" in (rule.methods or ())
    }
    assert posted == set(CONSOLE_POSTS) == set(houses.console_forms(admin))


@pytest.mark.parametrize("endpoint", CONSOLE_POSTS)
@pytest.mark.parametrize("token", ["missing", "empty", "forged", "other-session"])
def test_a_console_post_without_a_valid_token_is_400(
    houses: Any, admin: Any, endpoint: str, token: str
) -> None:
    path, fields = houses.console_forms(admin)[endpoint]
    fields = dict(fields)
    if token == "missing":
        del fields["csrf_token"]
    elif token == "empty":
        fields["csrf_token"] = ""
    elif token == "forged":
        fields["csrf_token"] = fields["csrf_token"][:-4] + "AAAA"
    else:
        fields["csrf_token"] = houses.csrf_token(houses.browser(houses.viewer))
    before = houses.state()
    response = admin.post(path, data=fields, headers=SAME_ORIGIN)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    assert "reload the page" in response.text
    assert houses.state() == before


@pytest.mark.parametrize("endpoint", CONSOLE_POSTS)
@pytest.mark.parametrize("attack", sorted(CROSS_SITE))
def test_a_console_post_from_another_site_is_403(
    houses: Any, admin: Any, endpoint: str, attack: str
) -> None:
    path, fields = houses.console_forms(admin)[endpoint]
    before = houses.state()
    response = admin.post(path, data=fields, headers=CROSS_SITE[attack])
    assert response.status_code == 403, (response.status_code, response.text[:300])
    assert "another site" in response.text
    assert houses.state() == before
    htmx = admin.post(path, data=fields, headers={**CROSS_SITE[attack], "HX-Request": "true"})
    assert htmx.status_code == 403
    assert houses.state() == before


@pytest.mark.parametrize(
    ("endpoint", "changed"),
    [
        ("config_post", "cfg"),
        ("config_raw_post", "cfg"),
        ("tasks_send", "queued"),
        ("tasks_beat_run", "queued"),
        ("endpoints_try", "tables"),
    ],
)
def test_the_same_post_from_the_console_page_changes_things(
    houses: Any, admin: Any, original_cfg: str, endpoint: str, changed: str
) -> None:
    """The control: the forms above do change things when the console's own page sends them."""
    path, fields = houses.console_forms(admin)[endpoint]
    before = houses.state()
    response = admin.post(path, data=fields, headers=SAME_ORIGIN)
    assert response.status_code in (200, 201, 303), (response.status_code, response.text[:300])
    assert houses.state()[changed] != before[changed]


@pytest.mark.parametrize("attack", sorted(CROSS_SITE))
def test_the_examples_forms_and_the_api_refuse_another_site(
    houses: Any, admin: Any, attack: str
) -> None:
    """The example's task forms and the API, with the admin's session cookie and a valid
    token, from another site: 403 and nothing queued or written (the same guard)."""
    token = houses.csrf_token(admin)
    before = houses.state()
    for path, data in (
        ("/census", {"csrf_token": token}),
        ("/fail", {"csrf_token": token}),
        ("/adopt", {"csrf_token": token, "cat": "Felix", "house": "2"}),
    ):
        response = admin.post(path, data=data, headers=CROSS_SITE[attack])
        assert response.status_code == 403, (path, response.status_code)
    api = admin.post(
        "/api/houses/",
        json={"address": "forged"},
        headers={**CROSS_SITE[attack], "X-CSRFToken": token},
    )
    assert api.status_code == 403
    assert api.mimetype == "application/problem+json"
    assert (
        admin.post(
            "/auth/logout", data={"csrf_token": token}, headers=CROSS_SITE[attack]
        ).status_code
        == 403
    )
    assert houses.state() == before
    assert admin.get("/console/").status_code == 200  # still signed in


def test_over_https_a_post_also_needs_a_referrer_on_this_host(houses: Any, admin: Any) -> None:
    """Flask-WTF's WTF_CSRF_SSL_STRICT: over HTTPS, a valid token with no Referer, or one from
    another host, is a 400 that says so; from the console's own page it is answered."""
    path, fields = houses.console_forms(admin)["config_validate"]
    https = {"base_url": "https://localhost", "headers": {"Origin": "https://localhost"}}
    before = houses.state()
    missing = admin.post(path, data=fields, **https)
    assert missing.status_code == 400, missing.text[:300]
    assert "referrer header is missing: reload the page" in missing.text
    https["headers"] = {**https["headers"], "Referer": "https://elsewhere.example/console/"}
    elsewhere = admin.post(path, data=fields, **https)
    assert elsewhere.status_code == 400, elsewhere.text[:300]
    assert "referrer does not match the host: reload the page" in elsewhere.text
    assert houses.state() == before
    https["headers"] = {**https["headers"], "Referer": "https://localhost/console/config"}
    assert admin.post(path, data=fields, **https).status_code == 200
