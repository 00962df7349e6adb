"""flasker.csrf: Flask-WTF's check for one blueprint's unsafe requests, not the whole app."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask
from flask_wtf.csrf import generate_csrf

from flasker.csrf import CSRFError, check_csrf


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.secret_key = "test-secret"
    guarded = Blueprint("guarded", __name__)
    guarded.before_request(check_csrf)
    guarded.add_url_rule("/change", "change", lambda: "changed", methods=["GET", "POST"])
    app.register_blueprint(guarded, url_prefix="/ext")
    app.add_url_rule("/own", "own", lambda: "own form", methods=["POST"])
    app.add_url_rule("/token", "token", generate_csrf)

    @app.errorhandler(CSRFError)
    def refused(error: CSRFError) -> tuple[str, int]:
        return f"refused: {error.description}", 400

    return app


def test_a_post_without_a_token_is_refused_and_says_why(app: Flask) -> None:
    client = app.test_client()
    response = client.post("/ext/change")
    assert response.status_code == 400
    assert response.text == "refused: The CSRF token is missing."
    forged = client.post("/ext/change", data={"csrf_token": "forged"})
    assert forged.text == "refused: The CSRF session token is missing."  # no page was read


def test_the_token_as_a_form_field_or_a_header(app: Flask) -> None:
    client = app.test_client()
    token = client.get("/token").text
    assert client.post("/ext/change", data={"csrf_token": token}).text == "changed"
    assert client.post("/ext/change", headers={"X-CSRFToken": token}).text == "changed"


def test_safe_methods_and_the_apps_own_routes_are_not_checked(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/ext/change").text == "changed"
    assert client.post("/own").text == "own form"


def test_over_https_the_referrer_must_be_this_host(app: Flask) -> None:
    client = app.test_client()
    token = client.get("/token", base_url="https://localhost").text
    https = {"base_url": "https://localhost", "data": {"csrf_token": token}}
    assert "referrer header is missing" in client.post("/ext/change", **https).text
    elsewhere = client.post("/ext/change", headers={"Referer": "https://evil.example/"}, **https)
    assert "referrer does not match" in elsewhere.text
    own = client.post("/ext/change", headers={"Referer": "https://localhost/ext/"}, **https)
    assert own.text == "changed"


def test_an_apps_own_settings_win(app: Flask) -> None:
    app.config["WTF_CSRF_HEADERS"] = ["X-My-Token"]
    client = app.test_client()
    token = client.get("/token").text
    assert client.post("/ext/change", headers={"X-CSRFToken": token}).status_code == 400
    assert client.post("/ext/change", headers={"X-My-Token": token}).text == "changed"
