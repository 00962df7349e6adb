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
        TOKENS[project] = _read_token(folder / "default.cfg")
        yield project
    finally:
        project.celery.close()
        project.close()


TOKENS: dict[Project, str] = {}


def _read_token(cfg: Path) -> str:
    """The example asks for sign-in (flasker-auth): read it as an operator would, with a user
    added and an api:read token created through the CLI."""
    from click.testing import CliRunner

    from flasker.cli import cli

    runner = CliRunner()
    added = runner.invoke(cli, ["-c", str(cfg), "auth", "user", "add", "reader@example.com"])
    assert added.exit_code == 0, added.output
    command = ["-c", str(cfg), "auth", "token", "create", "--email", "reader@example.com"]
    created = runner.invoke(cli, [*command, "--scopes", "api:read"])
    assert created.exit_code == 0, created.output
    return created.stdout.splitlines()[0].strip()


def client_of(project: Project):
    """A test client that sends the example's read token."""
    client = project.app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKENS[project]}"
    return client


def test_example_api_refuses_anonymous_clients(example):
    response = example.app.test_client().get("/api/houses/")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_example_lists_the_api_module():
    shipped = load_config(EXAMPLE / "default.cfg", environ={})
    assert f"{PACKAGE}.api" in shipped.modules


def test_example_serves_its_houses(example):
    client = client_of(example)
    body = client.get("/api/houses/").get_json()
    assert [h["address"] for h in body["data"]] == [
        "1 Rue des Chats, Paris",
        "42 Wallaby Way, Sydney",
        "221B Baker Street, London",
    ]
    assert body["meta"]["total"] == 3


def test_example_serves_its_cats_by_name_with_their_house(example):
    client = client_of(example)
    cat = client.get("/api/cats/Garfield?include=house").get_json()
    assert cat["color"] == "orange"
    assert cat["house"]["address"] == "1 Rue des Chats, Paris"
    house = client.get("/api/houses/3/cats/?sort=age").get_json()
    assert [c["name"] for c in house["data"]] == ["Mittens", "Luna", "Salem"]
    assert client.get("/api/houses/3/cats/1").get_json()["name"] == "Luna"


def test_example_index_and_openapi(example):
    client = client_of(example)
    index = client.get("/api/")
    assert index.status_code == 200
    assert "/api/cats/" in index.get_data(as_text=True)
    document = client.get("/api/openapi.json")
    assert document.status_code == 200
    assert document.get_json()["openapi"].startswith("3.1")


def test_example_numbers_a_new_house_after_its_seeded_ones(example):
    # The seeded houses once had explicit ids: PostgreSQL's sequence stayed at 1 and the first
    # house added through the API answered 409 (found by bench/multihost.py).
    from sqlalchemy import text

    with example.db.engine.begin() as connection:
        new_id = connection.execute(
            text("INSERT INTO houses (address) VALUES ('4 New Street') RETURNING id")
        ).scalar_one()
        connection.execute(text("DELETE FROM houses WHERE id = :id"), {"id": new_id})
    assert new_id == 4


def test_example_finds_a_house_s_cats_by_an_index(example):
    # Without one, each house of a page counted its cats by scanning the whole cats table:
    # 1,000 houses x 10 cats on PostgreSQL served 15 pages of 100 houses a second, the database
    # at 100% CPU and gunicorn idle (found by bench/server_load.py).
    from sqlalchemy import inspect

    indexes = inspect(example.db.engine).get_indexes("cats")
    assert ["house_id"] in [index["column_names"] for index in indexes]
