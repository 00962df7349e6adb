"""`AuthManager` set up in other ways than the standard site: from the `[AUTH]` cfg section
alone, keyword arguments over the section, registered before the API, and flasker 0.1's
`GoogleAuthManager` one-liner."""

from __future__ import annotations

from typing import Any

import pytest

CFG_ONLY = """
    from flask import jsonify
    from flask_login import current_user

    from flasker import current_project
    from flasker.ext.auth import AuthManager

    current_project.register_manager(AuthManager())
    app = current_project.app


    @app.get("/whoami")
    def whoami():
        return jsonify(email=current_user.email, role=current_user.role)


    @app.get("/open")
    def open_view():
        return "open"
"""

CFG_ONLY_CFG = """
    [PROJECT]
    NAME = AuthFromCfg
    MODULES = {module}
    DB_URL = sqlite:///{database}

    [APP]
    SECRET_KEY = {secret}

    [AUTH]
    PROVIDER = testidp
    SERVER_METADATA_URL = {metadata_url}
    CLIENT_ID = {client_id}
    CLIENT_SECRET = ${{FLASKER_AUTH_TESTS_UNSET_VARIABLE:-{client_secret}}}
    AUTHORIZED_EMAILS = first@cfg.test, second@cfg.test
    AUTHORIZED_DOMAINS = cfg-domain.test
    ADMINS = boss@cfg.test
    PUBLIC_ENDPOINTS = open_view
"""


@pytest.fixture(scope="module")
def cfg_site(make_site: Any) -> Any:
    return make_site(CFG_ONLY, CFG_ONLY_CFG)


@pytest.mark.parametrize(
    ("email", "role"),
    [
        ("second@cfg.test", "viewer"),
        ("anyone@cfg-domain.test", "viewer"),
        ("boss@cfg.test", "admin"),
    ],
)
def test_the_auth_section_alone_configures_sign_in(
    cfg_site: Any, oidc: Any, email: str, role: str
) -> None:
    cfg_site.clear()
    visitor = cfg_site.browser()
    response = visitor.sign_in(email)
    assert response.status_code in (302, 303), response.text
    assert visitor.whoami() == {"email": email, "role": role}


def test_the_auth_section_allow_list_refuses_others(cfg_site: Any, oidc: Any) -> None:
    cfg_site.clear()
    visitor = cfg_site.browser()
    assert visitor.sign_in("someone@else.test").status_code == 403


def test_public_endpoints_from_the_auth_section(cfg_site: Any, oidc: Any) -> None:
    visitor = cfg_site.browser()
    assert visitor.get("/open").text == "open"
    assert visitor.get("/whoami").status_code in (302, 303)


KWARGS_WIN = CFG_ONLY.replace(
    "AuthManager()", 'AuthManager(authorized_emails=["kw@kwargs.test"], admins=[])'
)


@pytest.fixture(scope="module")
def kwargs_site(make_site: Any) -> Any:
    return make_site(KWARGS_WIN, CFG_ONLY_CFG)


def test_keyword_arguments_win_over_the_auth_section(kwargs_site: Any, oidc: Any) -> None:
    kwargs_site.clear()
    allowed = kwargs_site.browser()
    allowed.sign_in("kw@kwargs.test")
    assert allowed.whoami() == {"email": "kw@kwargs.test", "role": "viewer"}
    assert kwargs_site.browser().sign_in("first@cfg.test").status_code == 403
    # ADMINS = [] replaced the section's admins: boss is only allowed by nothing now
    assert kwargs_site.browser().sign_in("boss@cfg.test").status_code == 403


AUTH_FIRST = """
    from flask_login import current_user
    from sqlalchemy import Column, Integer, Unicode

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.ext.auth import AuthManager
    from flasker.util import Model

    auth = current_project.register_manager(
        AuthManager("testidp", "{metadata_url}", "{client_id}", "{client_secret}",
                    authorized_emails=["{allowed}"], admins=["{admin}"])
    )
    api = current_project.register_manager(APIManager(add_all_models=True, url_prefix="/api"))


    class Memo(Model):
        id = Column(Integer, primary_key=True)
        text = Column(Unicode(200), nullable=False)


    app = current_project.app


    @app.get("/")
    def home():
        return "home of " + current_user.email
"""


@pytest.fixture(scope="module")
def auth_first_site(make_site: Any) -> Any:
    return make_site(AUTH_FIRST, CFG_ONLY_CFG.split("[AUTH]")[0])


def test_the_api_is_closed_when_auth_is_registered_first(auth_first_site: Any, oidc: Any) -> None:
    visitor = auth_first_site.browser()
    for rule in auth_first_site.app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and not rule.arguments:
            response = visitor.get(rule.rule)
            assert response.status_code == 401, (rule.rule, response.status_code)


AUTH_COLLECTIONS = ("flasker_users", "flasker_api_tokens", "flasker_sign_in_links")


@pytest.mark.parametrize("role", ["viewer", "admin"])
def test_the_api_never_serves_the_auth_tables(auth_first_site: Any, oidc: Any, role: str) -> None:
    """add_all_models must not publish users, token hashes or sign-in links, nor let anyone
    write them (a viewer making themself admin, anyone minting a sign-in link)."""
    site = auth_first_site
    site.clear()
    site.add_user("holder@example.com", role="admin")
    token = site.create_token("holder@example.com", "api:read,api:write")
    if role != "admin":  # a viewer holding a write token (made before a demotion)
        site.cli("auth", "user", "role", "holder@example.com", role)
    user_id = site.user("holder@example.com")["id"]
    visitor = site.browser()
    headers = {"Authorization": f"Bearer {token}"}
    assert visitor.get("/api/memos/", headers=headers).status_code == 200
    attempts = []
    for collection in AUTH_COLLECTIONS:
        attempts += [
            ("GET", f"/api/{collection}/", None),
            ("GET", f"/api/{collection}/{user_id}", None),
            ("POST", f"/api/{collection}/", {"email": "x@evil.test", "role": "admin"}),
            ("PATCH", f"/api/{collection}/{user_id}", {"role": "admin"}),
            ("PUT", f"/api/{collection}/{user_id}", {"role": "admin"}),
            ("DELETE", f"/api/{collection}/{user_id}", None),
        ]
    for method, url, body in attempts:
        response = visitor.open(method, url, json=body, headers=headers)
        assert response.status_code in (403, 404, 405), (method, url, response.status_code)
        assert "token_hash" not in response.get_data(as_text=True)
    assert site.user("holder@example.com")["role"] == role
    assert site.user("x@evil.test") is None
    assert len(site.rows("flasker_api_tokens")) == 1


GOOGLE_ONE_LINER = """
    from flasker import current_project
    from flasker.ext.auth import GoogleAuthManager

    current_project.register_manager(
        GoogleAuthManager(client_id="0.1-client-id", authorized_emails=["hers@example.com"])
    )
    app = current_project.app


    @app.get("/")
    def home():
        return "home"
"""


@pytest.fixture(scope="module")
def google_site(make_site: Any) -> Any:
    return make_site(GOOGLE_ONE_LINER, CFG_ONLY_CFG.split("[AUTH]")[0])


def test_flasker_0_1_google_one_liner_closes_the_app(google_site: Any) -> None:
    import flasker_auth
    from flasker.ext import auth

    assert auth.GoogleAuthManager is flasker_auth.GoogleAuthManager
    assert auth.AuthManager is flasker_auth.AuthManager
    response = google_site.browser().get("/")
    assert response.status_code in (302, 303)
    assert "/auth/login" in response.headers["Location"]
