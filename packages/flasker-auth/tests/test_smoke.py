"""A quick pass over flasker-auth without a provider: the guard, the dev link, tokens and
sign-out on one project. The provider flows and the attacks are in the other test modules."""

from __future__ import annotations

import re
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flasker import Project
from flasker.cli import cli
from flasker.manager import ServeInfo
from flasker.testing import restored_process_state

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder: Path = tmp_path_factory.mktemp("smoke")
    module = f"smoke_{uuid.uuid4().hex[:8]}"
    (folder / f"{module}.py").write_text(
        textwrap.dedent(
            """
            from sqlalchemy import Column, Integer, String
            from flasker import current_project
            from flasker.util import Model
            from flasker_api import APIManager
            from flasker_auth import AuthManager, current_user, public

            class SmokeHouse(Model):
                id = Column(Integer, primary_key=True)
                address = Column(String(100))

            current_project.register_manager(APIManager(add_all_models=True))
            auth = current_project.register_manager(AuthManager())

            @current_project.app.get("/")
            def index():
                return f"hello {current_user.email}"

            @current_project.app.get("/about")
            @public
            def about():
                return "about"
            """
        )
    )
    cfg = folder / "default.cfg"
    cfg.write_text(
        f"[PROJECT]\nMODULES = {module}\n[APP]\nSECRET_KEY = smoke-secret-key-0123456789\n"
        "[AUTH]\nAUTHORIZED_DOMAINS = example.com\n"
    )
    with restored_process_state():
        project = Project(str(cfg)).start()
        yield {"project": project, "cfg": cfg, "auth": project.managers[1]}


def dev_link(site: dict[str, Any], capsys: pytest.CaptureFixture[str], **serving: Any) -> str:
    options = {"host": "127.0.0.1", "port": 5000, "debug": True, "prod": False, **serving}
    site["auth"].on_serve(site["project"], ServeInfo(**options))
    found = re.findall(r"http://127\.0\.0\.1:5000(/auth/dev/\S+)", capsys.readouterr().err)
    return found[-1] if found else ""


def test_anonymous_clients_are_refused(site: dict[str, Any]) -> None:
    client = site["project"].app.test_client()
    page = client.get("/?a=1")
    assert page.status_code == 302
    assert page.headers["Location"] == "/auth/login?next=/?a%3D1"
    assert client.get("/about").status_code == 200
    api = client.get("/api/smoke_houses/")
    assert api.status_code == 401
    assert api.mimetype == "application/problem+json"
    assert api.headers["WWW-Authenticate"].startswith("Bearer realm=")


@pytest.mark.parametrize(
    "target", ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:x"]
)
def test_login_next_stays_on_site(site: dict[str, Any], target: str) -> None:
    from flasker_auth import safe_next

    assert safe_next(target) == "/"


def test_dev_link_signs_in_once(site: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = dev_link(site, capsys)
    assert path
    client = site["project"].app.test_client()
    assert client.get(path, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 404
    first = client.get(path, environ_base=LOOPBACK)
    assert first.status_code == 302
    assert client.get("/").text == "hello admin@localhost"
    assert client.get(path, environ_base=LOOPBACK).status_code == 404  # used
    # the auth tables stay out of the API even for an admin
    assert client.get("/api/flasker_users/").status_code in (403, 404)


def test_no_dev_link_in_prod_or_off_loopback(
    site: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert dev_link(site, capsys, prod=True, debug=False) == ""
    assert dev_link(site, capsys, host="0.0.0.0") == ""
    assert site["auth"].dev_login_active is False


def test_tokens_scopes_and_revocation(site: dict[str, Any]) -> None:
    runner = CliRunner()
    cfg = str(site["cfg"])

    def flasker(*args: str) -> str:
        result = runner.invoke(cli, ["-c", cfg, *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    flasker("auth", "user", "add", "ops@elsewhere.test")
    read = flasker("auth", "token", "create", "--email", "ops@elsewhere.test").strip()
    client = site["project"].app.test_client()
    bearer = {"Authorization": f"Bearer {read}"}
    assert client.get("/api/smoke_houses/", headers=bearer).status_code == 200
    denied = client.post("/api/smoke_houses/", json={"address": "x"}, headers=bearer)
    assert denied.status_code == 403
    assert "api:write" in denied.json["detail"]
    listing = flasker("auth", "token", "list")
    assert read not in listing
    token_id = listing.splitlines()[-1].split()[0]
    flasker("auth", "token", "revoke", token_id)
    assert client.get("/api/smoke_houses/", headers=bearer).status_code == 401


def test_sign_out_needs_csrf(site: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    client = site["project"].app.test_client()
    client.get(dev_link(site, capsys), environ_base=LOOPBACK)
    assert client.post("/auth/logout").status_code == 400
    form = client.get("/auth/logout").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    assert client.post("/auth/logout", data={"csrf_token": token.group(1)}).status_code == 200
    assert client.get("/").status_code == 302


def test_the_sign_in_page_prints_the_live_link_again(
    site: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    """With no provider, the sign-in page sends the visitor to the server's terminal, which has
    just printed the live link again (a new one once it is used); the page never shows it."""
    link = dev_link(site, capsys)
    assert link
    client = site["project"].app.test_client()
    page = client.get("/auth/login")
    assert page.status_code == 200
    assert "flasker: sign in at" in page.text
    assert link not in page.text
    reprinted = re.findall(r"http://127\.0\.0\.1:5000(/auth/dev/\S+)", capsys.readouterr().err)
    assert reprinted == [link]

    assert client.get(link, environ_base=LOOPBACK).status_code == 302
    other = site["project"].app.test_client()
    other.get("/auth/login")
    fresh = re.findall(r"http://127\.0\.0\.1:5000(/auth/dev/\S+)", capsys.readouterr().err)
    assert len(fresh) == 1
    assert fresh[0] != link
    assert other.get(fresh[0], environ_base=LOOPBACK).status_code == 302
    assert other.get("/").text == "hello admin@localhost"


def test_without_a_live_dev_link_the_sign_in_page_says_sign_in_is_not_set_up(
    site: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert dev_link(site, capsys, debug=False) == ""  # DEV_LOGIN = auto: only with --debug
    page = site["project"].app.test_client().get("/auth/login")
    assert page.status_code == 503
    assert "DEV_LOGIN = true" in page.text
    assert "/auth/dev/" not in capsys.readouterr().err
