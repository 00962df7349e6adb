"""The console behind flasker-auth: anonymous visitors sign in, viewers read, admins change."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

VIEWER = "viewer@example.test"
ADMIN = "admin@example.test"

#: The project's module: auth, the console, and a test-only sign-in route that does what a
#: successful OIDC callback does (store the user, rotate the session, log them in).


@pytest.fixture(scope="module")
def auth_site(make_auth_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_auth_console()


@pytest.fixture
def site(auth_site: ConsoleSite) -> ConsoleSite:
    auth_site.reset()
    return auth_site


def sign_in(site: ConsoleSite, email: str, role: str) -> None:
    response = site.client.get(f"/test-sign-in/{email}")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == role


def save_form(site: ConsoleSite, page: str) -> dict[str, str]:
    """A complete save of DEBUG = true, as an admin's page would post it."""
    token = site.form(page)["csrf_token"]
    return {
        "csrf_token": token,
        "base": base64.b64encode(site.cfg.read_bytes()).decode(),
        "value:APP:DEBUG": "true",
        "action": "save",
    }


@pytest.mark.parametrize("path", ["/", "/config", "/config/raw", "/status"])
def test_anonymous_visitors_are_sent_to_sign_in(site: ConsoleSite, path: str) -> None:
    response = site.get(path)
    assert response.status_code == 302
    assert "/auth/login?next=" in response.headers["Location"]
    assert "console" in response.headers["Location"]


def test_anonymous_htmx_and_post_requests_never_reach_the_console(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    response = site.get("/config", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert "/auth/login" in response.headers["HX-Redirect"]
    posted = site.post("/config", data={"value:APP:DEBUG": "true", "action": "save"})
    assert posted.status_code == 302
    assert site.cfg.read_bytes() == before


def test_a_viewer_reads_but_cannot_change(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    sign_in(site, VIEWER, "viewer")
    page = site.page("/config")
    assert 'data-testid="read-only"' in page
    assert VIEWER in page
    assert 'data-testid="no-auth"' not in page
    assert "Preview changes" not in page
    assert 'name="base"' not in page  # the raw text (and its secrets) stays on the server
    assert "readonly" in page.split('data-testid="row-APP-DEBUG"')[1].split("</tr>")[0]
    # secrets written in the file are masked for viewers
    assert "console-tests-secret-key" not in page
    assert "console-tests-secret-key" not in site.page("/config/raw")
    assert site.page("/").count('data-ok="true"') == 2

    form = save_form(site, page)
    for path in ("/config", "/config/validate", "/config/raw", "/config/raw/validate"):
        response = site.post(path, data=form)
        assert response.status_code == 403, path
        assert "admin" in response.get_data(as_text=True)
    assert site.cfg.read_bytes() == before


def test_an_admin_changes_the_cfg(site: ConsoleSite) -> None:
    sign_in(site, ADMIN, "admin")
    page = site.page("/config")
    assert 'data-testid="read-only"' not in page
    assert "Preview changes" in page
    assert "console-tests-secret-key" in page
    form = site.form(page)
    response = site.post("/config", data={**form, "value:APP:DEBUG": "true", "action": "save"})
    assert response.status_code == 303
    assert "DEBUG = true" in site.text()
    assert "# keep debug off outside a laptop" in site.text()


def test_an_admin_still_needs_the_csrf_token(site: ConsoleSite) -> None:
    before = site.cfg.read_bytes()
    sign_in(site, ADMIN, "admin")
    form = site.form(site.page("/config"))
    del form["csrf_token"]
    response = site.post("/config", data={**form, "value:APP:DEBUG": "true", "action": "save"})
    assert response.status_code == 400
    assert site.cfg.read_bytes() == before
