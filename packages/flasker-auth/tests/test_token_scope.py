"""Bearer tokens outside the API: `@token_scope("metrics:read")` lets a token carrying that scope
open that one view (what a Prometheus scraper needs), signed in as the token's user for the
request only. The token must be valid (else 401), carry the view's scope (else 403, naming it)
and, for `metrics:read`, belong to an admin, when created (the CLI refuses a viewer) and at
every use. It opens no other page and not the API; without a token the view is guarded as any
other."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

PROBLEM = "application/problem+json"
ROBOT = "robot@example.com"
READER = "reader@example.com"

#: The standard site's allow-list and API, with views marked `@token_scope`.
SOURCE = """
    from flask import jsonify
    from flask_login import current_user
    from sqlalchemy import Column, Integer, Unicode

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker_auth import AuthManager, roles_required, token_scope
    from flasker.util import Model

    api = current_project.register_manager(APIManager(url_prefix="/api"))
    auth = current_project.register_manager(
        AuthManager(
            provider_name="testidp",
            server_metadata_url="{metadata_url}",
            client_id="{client_id}",
            client_secret="{client_secret}",
            scopes=["openid", "email", "profile"],
            authorized_emails=["{allowed}", "{admin}"],
            admins=["{admin}"],
        )
    )


    class {note}(Model):
        id = Column(Integer, primary_key=True)
        text = Column(Unicode(200), nullable=False)


    api.add_model({note})
    app = current_project.app


    @app.get("/metrics")
    @token_scope("metrics:read")
    @roles_required("admin")
    def metrics():
        return "metrics for " + current_user.email


    @app.post("/metrics/reset")
    @token_scope("metrics:read")
    @roles_required("admin")
    def metrics_reset():
        return "reset by " + current_user.email


    @app.get("/some/page")
    def some_page():
        return "some page"


    @app.get("/whoami")
    def whoami():
        return jsonify(email=current_user.email, role=current_user.role)
"""


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


def problem(response: Any, status: int) -> str:
    """The detail of a problem answer with `status`."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.mimetype == PROBLEM, response.mimetype
    return str(response.get_json()["detail"])


@pytest.fixture(scope="module")
def scoped_site(make_site: Callable[..., Any]) -> Any:
    return make_site(SOURCE, note="ScopedNote")


@pytest.fixture
def site(scoped_site: Any, oidc: Any) -> Any:
    scoped_site.clear()
    scoped_site.add_user(ROBOT, "admin")
    scoped_site.add_user(READER)
    return scoped_site


@pytest.fixture
def scraper(site: Any) -> Any:
    """A client without cookies, as Prometheus or curl."""
    return site.app.test_client(use_cookies=False)


# -- the scope ---------------------------------------------------------------------------------
def test_metrics_read_is_a_known_scope() -> None:
    from flasker_auth import METRICS_SCOPE, token_scope
    from flasker_auth.tokens import parse_scopes

    assert METRICS_SCOPE == "metrics:read"
    assert parse_scopes("metrics:read") == ["metrics:read"]
    assert parse_scopes("metrics:read,api:read") == ["api:read", "metrics:read"]
    with pytest.raises(ValueError, match="metrics:read"):  # the error lists the known scopes
        parse_scopes("metrics:write")
    with pytest.raises(ValueError, match="unknown token scope 'metrics'"):
        token_scope("metrics")


def test_the_cli_creates_a_metrics_token_for_an_admin_only(site: Any) -> None:
    token = site.create_token(ROBOT, "metrics:read", "--name", "prometheus")
    assert token.startswith("fla_")
    (row,) = site.rows("flasker_api_tokens")
    assert (row["scopes"], row["name"]) == ("metrics:read", "prometheus")

    refused = site.cli(
        "auth", "token", "create", "--email", READER, "--scopes", "metrics:read", ok=False
    )
    assert refused.exit_code == 1, refused.output
    assert f"{READER} is a viewer" in refused.output
    assert "metrics:read" in refused.output
    assert f"flasker auth user role {READER} admin" in refused.output
    assert "Traceback" not in refused.output
    assert len(site.rows("flasker_api_tokens")) == 1
    assert "metrics:read" in site.cli("auth", "token", "create", "--help").output


# -- the guard ---------------------------------------------------------------------------------
def test_a_metrics_token_opens_the_marked_view_for_this_request_only(
    site: Any, scraper: Any
) -> None:
    token = site.create_token(ROBOT, "metrics:read")
    response = scraper.get("/metrics", headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.text == f"metrics for {ROBOT}"
    assert "Set-Cookie" not in response.headers
    assert site.rows("flasker_api_tokens")[0]["last_used"] is not None
    # asking for JSON (what makes a request an API one) does not change the scope it needs
    as_json = scraper.get("/metrics", headers=bearer(token, Accept="application/json"))
    assert as_json.status_code == 200, as_json.text


def test_a_metrics_token_opens_nothing_else(site: Any, scraper: Any) -> None:
    token = site.create_token(ROBOT, "metrics:read")
    assert scraper.get("/some/page", headers=bearer(token)).status_code in (302, 303)
    assert scraper.get("/whoami", headers=bearer(token)).status_code in (302, 303)
    detail = problem(scraper.get(site.notes, headers=bearer(token)), 403)
    assert "api:read" in detail
    detail = problem(scraper.post(site.notes, json={"text": "x"}, headers=bearer(token)), 403)
    assert "api:write" in detail
    assert site.rows(site.module.ScopedNote.__tablename__) == []


def test_an_api_token_does_not_open_the_marked_view(site: Any, scraper: Any) -> None:
    token = site.create_token(ROBOT, "api:read,api:write")
    assert scraper.get(site.notes, headers=bearer(token)).status_code == 200
    detail = problem(scraper.get("/metrics", headers=bearer(token)), 403)
    assert "lacks the metrics:read scope" in detail
    assert "it has: api:read api:write" in detail


@pytest.mark.parametrize("header", ["Bearer fla_" + "x" * 43, "Bearer nonsense", "Bearer "])
def test_an_invalid_token_gets_401(site: Any, scraper: Any, header: str) -> None:
    response = scraper.get("/metrics", headers={"Authorization": header})
    assert "not valid" in problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_or_expired_token_gets_401(site: Any, scraper: Any) -> None:
    token = site.create_token(ROBOT, "metrics:read")
    assert scraper.get("/metrics", headers=bearer(token)).status_code == 200
    site.cli("auth", "token", "revoke", token[: len("fla_") + 8])
    assert "revoked" in problem(scraper.get("/metrics", headers=bearer(token)), 401)

    other = site.create_token(ROBOT, "metrics:read", "--expires", "1d")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    assert site.update("flasker_api_tokens", {"expires": past}, revoked=None) == 1
    assert "expired" in problem(scraper.get("/metrics", headers=bearer(other)), 401)


def test_a_metrics_token_works_only_while_its_user_is_an_admin(site: Any, scraper: Any) -> None:
    token = site.create_token(ROBOT, "metrics:read")
    assert scraper.get("/metrics", headers=bearer(token)).status_code == 200
    site.cli("auth", "user", "role", ROBOT, "viewer")
    detail = problem(scraper.get("/metrics", headers=bearer(token)), 403)
    assert f"{ROBOT} is a viewer" in detail
    assert f"flasker auth user role {ROBOT} admin" in detail
    site.cli("auth", "user", "role", ROBOT, "admin")
    assert scraper.get("/metrics", headers=bearer(token)).status_code == 200
    site.cli("auth", "user", "remove", ROBOT)
    assert "not valid" in problem(scraper.get("/metrics", headers=bearer(token)), 401)


def test_without_a_token_the_marked_view_is_guarded_as_any_page(site: Any, visitor: Any) -> None:
    anonymous = visitor.get("/metrics")
    assert anonymous.status_code == 302
    assert "/auth/login?next=" in anonymous.headers["Location"]
    assert visitor.get("/metrics", headers={"Accept": "application/json"}).status_code == 401
    visitor.sign_in(site.allowed_email)  # a viewer
    assert visitor.get("/metrics").status_code == 403
    admin = site.browser()
    admin.sign_in(site.admin_email)
    assert admin.get("/metrics").text == f"metrics for {site.admin_email}"


def test_a_token_change_on_the_marked_view_skips_the_cross_site_check(
    site: Any, scraper: Any, visitor: Any
) -> None:
    """A token is no ambient credential: a page of another site cannot make a browser send it."""
    token = site.create_token(ROBOT, "metrics:read")
    evil = {"Origin": "https://evil.example"}
    response = scraper.post("/metrics/reset", headers=bearer(token, **evil))
    assert response.status_code == 200, response.text
    visitor.sign_in(site.admin_email)
    assert visitor.post("/metrics/reset", headers=evil).status_code == 403
    # a bad token there is refused as a token, not let through by the exemption
    assert "not valid" in problem(
        scraper.post("/metrics/reset", headers=bearer("fla_x", **evil)), 401
    )
