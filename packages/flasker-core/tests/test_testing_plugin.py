"""The pytest plugin users get with flasker-core: fixtures over their own project."""

from __future__ import annotations

import textwrap

import pytest

pytestmark = pytest.mark.slow

PROJECT = """
from flasker import current_project
from flasker.util import Model
from sqlalchemy import Column, Integer, String

app = current_project.app
celery = current_project.celery


class Pet(Model):
    id = Column(Integer, primary_key=True)
    name = Column(String(50))


@celery.task
def adopt(name):
    current_project.session.add(Pet(name=name))
    return name


@app.route("/pets", methods=["GET", "POST"])
def pets():
    from flask import request
    if request.method == "POST":
        adopt.delay(request.form["name"])
    return {"pets": [p.name for p in current_project.session.query(Pet)]}
"""

TESTS = """
def test_client_and_eager_tasks(flasker_client, flasker_project):
    assert flasker_client.get("/pets").json == {"pets": []}
    assert flasker_client.post("/pets", data={"name": "Tom"}).json == {"pets": ["Tom"]}
    assert str(flasker_project.db.engine.url) != "sqlite:///DEV_DB"
    assert "dev.sqlite" not in str(flasker_project.db.engine.url)


def test_cli_sees_the_same_project(flasker_cli):
    result = flasker_cli("routes")
    assert result.exit_code == 0
    assert "/pets" in result.output
    assert "pets_app.adopt" in flasker_cli("tasks").output
"""


def write_project(pytester: pytest.Pytester, ini: str = "") -> None:
    pytester.makefile(
        ".cfg",
        default=textwrap.dedent("""
            [PROJECT]
            NAME = pets
            MODULES = pets_app
            DB_URL = sqlite:///dev.sqlite
        """),
    )
    pytester.makepyfile(pets_app=PROJECT, test_pets=TESTS)
    if ini:
        pytester.makeini(ini)


def test_fixtures_give_a_client_eager_tasks_and_a_throwaway_database(pytester):
    write_project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=2)
    # the development database named in the cfg was never created
    assert not (pytester.path / "dev.sqlite").exists()


def test_a_missing_cfg_fails_with_the_places_looked(pytester):
    pytester.makepyfile(test_x="def test_x(flasker_client):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*flasker fixtures:*"])


def test_ini_option_points_at_the_cfg(pytester):
    write_project(pytester)
    cfg = pytester.path / "default.cfg"
    sub = pytester.mkdir("conf")
    cfg.rename(sub / "default.cfg")
    (pytester.path / "pets_app.py").rename(sub / "pets_app.py")
    pytester.makeini("[pytest]\nflasker_config = conf/default.cfg\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
