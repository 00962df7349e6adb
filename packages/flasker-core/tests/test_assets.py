"""`flasker._assets`: the Bootstrap files the build hook vendors, served to every project's app."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, url_for

from flasker import Project
from flasker._assets import STATIC_FOLDER, VENDORED, init_assets

from ._project_helpers import close_project


@pytest.mark.parametrize("name", VENDORED)
def test_the_build_hook_vendored_the_files(name: str) -> None:
    path = STATIC_FOLDER / name
    assert path.is_file(), f"{path} is missing: run uv sync --all-packages"
    assert path.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("name", "mimetype", "marker"),
    [
        ("vendor/bootstrap.min.css", "text/css", b"Bootstrap"),
        ("vendor/bootstrap.bundle.min.js", "text/javascript", b"Bootstrap"),
    ],
)
def test_the_blueprint_serves_the_files(name: str, mimetype: str, marker: bytes) -> None:
    app = Flask(__name__)
    init_assets(app)
    with app.test_client() as client:
        response = client.get(f"/_flasker/static/{name}")
        assert response.status_code == 200
        assert response.mimetype == mimetype
        assert marker in response.data[:200]
        response.close()
        assert client.get("/_flasker/static/vendor/nothing.css").status_code == 404


def test_url_for_builds_the_documented_url() -> None:
    app = Flask(__name__)
    init_assets(app)
    with app.test_request_context():
        url = url_for("flasker_assets.static", filename="vendor/bootstrap.min.css")
    assert url == "/_flasker/static/vendor/bootstrap.min.css"


def test_registering_twice_is_harmless() -> None:
    app = Flask(__name__)
    init_assets(app)
    init_assets(app)
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint == "flasker_assets.static"]
    assert rules == ["/_flasker/static/<path:filename>"]


@pytest.mark.usefixtures("isolated")
def test_every_project_app_serves_them(tmp_path: Path) -> None:
    cfg = tmp_path / "default.cfg"
    cfg.write_text("[PROJECT]\nNAME = assets\n")
    project = Project(cfg).start()
    try:
        response = project.app.test_client().get("/_flasker/static/vendor/bootstrap.min.css")
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        response.close()
    finally:
        close_project(project)
