"""The example asks for sign-in, as a newcomer meets it: `flasker server` prints a one-time link,
the browser signs in with it, sign-out ends the session, and the API wants a bearer token made
with `flasker auth token create`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from flasker.testing import LiveServer

pytestmark = pytest.mark.slow

PROBLEM = "application/problem+json"
#: Where to keep the sign-in page's screenshot (default: the test's tmp_path).
SCREENSHOTS = os.environ.get("FLASKER_E2E_SCREENSHOTS")


def flasker(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m flasker -c <the server's cfg> *args`, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "flasker", "-c", str(server.cfg), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create_token(server: LiveServer, email: str, scopes: str) -> str:
    made = flasker(server, "auth", "token", "create", "--email", email, "--scopes", scopes)
    assert made.returncode == 0, made.stdout + made.stderr
    token = made.stdout.strip()
    assert re.fullmatch(r"fla_[A-Za-z0-9_\-]{20,}", token), made.stdout
    return token


def test_the_example_asks_for_sign_in(
    page: Page, anonymous_example_server: LiveServer, tmp_path: Path, dev_links: Any
) -> None:
    server = anonymous_example_server
    page.goto(server.url + "/")
    expect(page).to_have_url(server.url + "/auth/login?next=/")
    expect(page).to_have_title("Sign in · Houses")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_test_id("auth-command")).to_contain_text(
        f"flasker: sign in at {server.url}/auth/dev/"
    )
    # Bootstrap, served by flasker itself, styles the page
    expect(page.locator("body")).to_have_css("background-color", "rgb(248, 249, 250)")
    expect(page.get_by_test_id("auth-message")).to_have_css("border-top-left-radius", "6px")
    shot = Path(SCREENSHOTS or tmp_path) / "sign-in.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    # the page never shows the link itself; the server's terminal does
    assert "/auth/dev/" not in re.sub(r"/auth/dev/…", "", page.content())
    assert dev_links(server)


def test_the_printed_link_signs_in_once(
    page: Page, browser: Browser, anonymous_example_server: LiveServer, dev_links: Any
) -> None:
    server = anonymous_example_server
    link = dev_links(server)[0]
    page.goto(link)
    expect(page).to_have_url(server.url + "/")
    expect(page.get_by_role("heading", name="Houses and their cats")).to_be_visible()
    expect(page.get_by_test_id("signed-in-as")).to_have_text("admin@localhost")

    other = browser.new_context()
    try:
        again = other.new_page()
        response = again.goto(link)
        assert response is not None
        assert response.status == 404
        expect(again.get_by_role("heading", name="Link used or expired")).to_be_visible()
        again.goto(server.url + "/")
        expect(again).to_have_url(re.compile(r"/auth/login\?next=/$"))
    finally:
        other.close()


def test_the_api_refuses_anonymous_writes_and_accepts_a_bearer_token(
    anonymous_example_server: LiveServer,
) -> None:
    server = anonymous_example_server
    houses = server.url + "/api/houses/"
    new_house = {"address": "7 Rue du Chat, Lyon"}
    refused = requests.post(houses, json=new_house, timeout=10)
    assert refused.status_code == 401, refused.text
    assert refused.headers["Content-Type"] == PROBLEM
    assert refused.headers["WWW-Authenticate"].startswith('Bearer realm="Houses"')
    assert refused.json()["status"] == 401

    # the development admin, before anyone used the link: the CLI creates it
    token = create_token(server, "admin@localhost", "api:read,api:write")
    bearer = {"Authorization": f"Bearer {token}"}
    created = requests.post(houses, json=new_house, headers=bearer, timeout=10)
    assert created.status_code == 201, created.text
    listed = requests.get(houses, headers=bearer, timeout=10).json()["data"]
    assert new_house["address"] in [house["address"] for house in listed]

    # a user added by an operator, as the README shows
    added = flasker(server, "auth", "user", "add", "ops@example.com", "--role", "admin")
    assert added.returncode == 0, added.stderr
    ops = create_token(server, "ops@example.com", "api:read,api:write")
    second = requests.post(
        houses,
        json={"address": "8 Rue du Chat, Lyon"},
        headers={"Authorization": f"Bearer {ops}"},
        timeout=10,
    )
    assert second.status_code == 201, second.text

    # a read token reads and does not write; a viewer gets no write token at all
    reader = create_token(server, "ops@example.com", "api:read")
    headers = {"Authorization": f"Bearer {reader}"}
    assert requests.get(houses, headers=headers, timeout=10).status_code == 200
    assert requests.post(houses, json=new_house, headers=headers, timeout=10).status_code == 403
    assert flasker(server, "auth", "user", "add", "eve@example.com").returncode == 0
    viewer = flasker(
        server, "auth", "token", "create", "--email", "eve@example.com", "--scopes", "api:write"
    )
    assert viewer.returncode == 1
    assert "viewer" in viewer.stderr
    assert "Traceback" not in viewer.stderr


def test_sign_out_ends_the_session(
    page: Page, browser: Browser, example_server: LiveServer
) -> None:
    server = example_server
    page.goto(server.url + "/")
    expect(page.get_by_test_id("signed-in-as")).to_have_text("admin@localhost")
    copied = page.context.cookies()
    assert copied

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/auth/login\?next=/$"))

    # the cookie copied before sign-out is worthless now
    thief = browser.new_context()
    try:
        thief.add_cookies(copied)
        stolen = thief.new_page()
        stolen.goto(server.url + "/")
        expect(stolen).to_have_url(re.compile(r"/auth/login\?next=/$"))
    finally:
        thief.close()
    jar = {cookie["name"]: cookie["value"] for cookie in copied}
    api = requests.post(server.url + "/api/houses/", json={"address": "x"}, cookies=jar, timeout=10)
    assert api.status_code == 401
