"""The bundled example, `examples/houses`, exposes its models through the API.

Like flasker-core's `test_example.py`, each test runs a copy in a temporary folder under a unique
package name (MODULES and APP_FOLDER overridden through `FLASKER__PROJECT__*`), with its database
in that folder or in a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flasker import Project, load_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "houses"
PACKAGE = "houses"


@pytest.fixture(scope="module")
def example(backend_isolated, tmp_path_factory) -> Iterator[Project]:
    """A started copy of the example on `db_url` (SQLite or PostgreSQL)."""
    folder = tmp_path_factory.mktemp("example")
    package = f"{PACKAGE}_{os.urandom(5).hex()}"
    shutil.copy(EXAMPLE / "default.cfg", folder / "default.cfg")
    shutil.copytree(
        EXAMPLE / PACKAGE, folder / package, ignore=shutil.ignore_patterns("__pycache__")
    )
    shipped = load_config(folder / "default.cfg", environ={})
    modules = [name.replace(f"{PACKAGE}.", f"{package}.", 1) for name in shipped.modules]
    environ = {
        **os.environ,
        "FLASKER__PROJECT__MODULES": ", ".join(modules),
        "FLASKER__PROJECT__APP_FOLDER": package,
        "FLASKER__PROJECT__DB_URL": backend_isolated,
    }
    project = Project(load_config(folder / "default.cfg", environ=environ))
    try:
        project.start()
        yield project
    finally:
        project.celery.close()
        project.close()


def test_example_lists_the_api_module():
    shipped = load_config(EXAMPLE / "default.cfg", environ={})
    assert f"{PACKAGE}.api" in shipped.modules


def test_example_serves_its_houses(example):
    client = example.app.test_client()
    body = client.get("/api/houses/").get_json()
    assert [h["address"] for h in body["data"]] == [
        "1 Rue des Chats, Paris",
        "42 Wallaby Way, Sydney",
        "221B Baker Street, London",
    ]
    assert body["meta"]["total"] == 3


def test_example_serves_its_cats_by_name_with_their_house(example):
    client = example.app.test_client()
    cat = client.get("/api/cats/Garfield?include=house").get_json()
    assert cat["color"] == "orange"
    assert cat["house"]["address"] == "1 Rue des Chats, Paris"
    house = client.get("/api/houses/3/cats/?sort=age").get_json()
    assert [c["name"] for c in house["data"]] == ["Mittens", "Luna", "Salem"]
    assert client.get("/api/houses/3/cats/1").get_json()["name"] == "Luna"


def test_example_index_and_openapi(example):
    client = example.app.test_client()
    index = client.get("/api/")
    assert index.status_code == 200
    assert "/api/cats/" in index.get_data(as_text=True)
    document = client.get("/api/openapi.json")
    assert document.status_code == 200
    assert document.get_json()["openapi"].startswith("3.1")
