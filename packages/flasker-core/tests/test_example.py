"""The bundled example, `examples/houses`: it loads, seeds itself, lists houses, runs its tasks.

Each test runs a copy in `tmp_path` (never the repository's folder, whose database is the
developer's). The copy's package gets a unique name, and MODULES/APP_FOLDER are overridden
through `FLASKER__PROJECT__*` variables, so tasks and modules of one test never meet another's
in this process (Celery keeps a process-wide list of decorated tasks).
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from flasker import Project, load_config

from ._project_helpers import close_project, unique

# every test here may start a project: put the process back afterwards
pytestmark = pytest.mark.usefixtures("isolated")

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "houses"
PACKAGE = "houses"
ADDRESSES = ["1 Rue des Chats, Paris", "42 Wallaby Way, Sydney", "221B Baker Street, London"]
SEEDED_CENSUS = {"houses": dict(zip(ADDRESSES, [2, 1, 3], strict=True)), "total": 6}


class Example:
    """A started copy of the example, with handles on its models and tasks."""

    def __init__(self, project: Project, package: str) -> None:
        self.project = project
        self.package = package
        self.client = project.app.test_client()
        models = __import__(f"{package}.models", fromlist=["House"])
        self.House, self.Cat = models.House, models.Cat

    def task(self, name: str) -> Any:
        return self.project.celery.tasks[f"{self.package}.tasks.{name}"]

    def census(self) -> dict[str, Any]:
        return self.task("census").apply().get()

    def house_of(self, cat: str) -> int | None:
        with self.project.db.Session() as session:
            return session.get(self.Cat, cat).house_id


@pytest.fixture
def example(tmp_path: Path) -> Iterator[Callable[..., Example]]:
    """Factory: copy the example, start it (after `configure(project)`), close it afterwards."""
    started: list[Project] = []

    def make(configure: Callable[[Project], None] | None = None) -> Example:
        folder = tmp_path / "houses"
        package = unique(PACKAGE)
        folder.mkdir()
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
        }
        project = Project(load_config(folder / "default.cfg", environ=environ))
        started.append(project)
        if configure is not None:
            configure(project)
        project.start()
        return Example(project, package)

    yield make
    for project in started:
        close_project(project)


def test_the_repository_serves_the_example_on_embedded_services() -> None:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        assert tomllib.load(handle)["tool"]["flasker"]["config"] == "examples/houses/default.cfg"
    config = load_config(EXAMPLE / "default.cfg", environ={})
    assert config.get("PROJECT", "DB_URL") is None
    assert config.db_url == f"sqlite:///{EXAMPLE / 'db.sqlite'}"
    assert config.is_embedded_broker
    assert config.modules == ("houses.models", "houses.tasks", "houses.views", "houses.api")


def test_it_seeds_houses_and_cats_and_lists_them(example: Callable[..., Example]) -> None:
    houses = example()
    with houses.project.db.Session() as session:
        assert session.scalar(select(func.count()).select_from(houses.House)) == 3
        assert session.scalar(select(func.count()).select_from(houses.Cat)) == 6
    page = houses.client.get("/")
    assert page.status_code == 200
    assert page.text.count('data-testid="house"') == 3
    for name in [*ADDRESSES, "Felix", "Garfield", "Tom", "Salem", "Mittens", "Luna"]:
        assert name in page.text
    assert "/_flasker/static/vendor/bootstrap.min.css" in page.text


def test_seeding_happens_once_when_the_tables_are_created(example: Callable[..., Example]) -> None:
    houses = example()
    db = houses.project.db
    with db.Session() as session:
        for cat in session.scalars(select(houses.Cat)):
            session.delete(cat)
        session.commit()
    assert db.create_all() == []  # tables exist: nothing created, nothing seeded again
    assert houses.census()["total"] == 0


def test_census_counts_cats_per_house(example: Callable[..., Example]) -> None:
    assert example().census() == SEEDED_CENSUS


def test_adoption_moves_a_cat(example: Callable[..., Example]) -> None:
    houses = example()
    result = houses.task("adopt").apply(("Felix", 2))
    assert result.get() == {"cat": "Felix", "from": ADDRESSES[0], "to": ADDRESSES[1]}
    assert houses.house_of("Felix") == 2
    assert houses.census()["houses"] == dict(zip(ADDRESSES, [1, 2, 3], strict=True))
    sydney = houses.client.get("/").text.split(ADDRESSES[1])[1].split("</section>")[0]
    assert "Felix" in sydney


@pytest.mark.parametrize(
    ("cat", "house", "problem"), [("Nobody", 2, "no cat"), ("Tom", 99, "no house")]
)
def test_a_failed_adoption_changes_nothing(
    example: Callable[..., Example], cat: str, house: int, problem: str
) -> None:
    houses = example()
    result = houses.task("adopt").apply((cat, house))
    assert result.failed()
    assert isinstance(result.result, LookupError)
    assert problem in str(result.result)
    assert houses.census() == SEEDED_CENSUS


def test_the_failing_task_fails(example: Callable[..., Example]) -> None:
    result = example().task("fail").apply()
    assert result.failed()
    assert isinstance(result.result, RuntimeError)


def test_starting_a_task_redirects_to_a_status_page_that_refreshes_while_pending(
    example: Callable[..., Example],
) -> None:
    houses = example()  # the task is queued on the embedded broker; no worker runs it here
    started = houses.client.post("/census")
    assert started.status_code == 303
    assert started.location.startswith("/tasks/")
    status = houses.client.get(started.location)
    assert status.status_code == 200
    assert ">PENDING<" in status.text
    assert '<meta http-equiv="refresh" content="1">' in status.text
    assert houses.client.get("/tasks/not-a-task-id").status_code == 404


def test_the_status_page_shows_the_census_once_done(example: Callable[..., Example]) -> None:
    def run_inline(project: Project) -> None:
        project.celery.conf.update(task_always_eager=True, task_store_eager_result=True)

    houses = example(run_inline)
    status = houses.client.get("/tasks/" + houses.client.post("/census").location.split("/")[-1])
    assert ">SUCCESS<" in status.text
    assert "http-equiv" not in status.text
    assert '<th class="text-end">6</th>' in status.text

    adopted = houses.client.post("/adopt", data={"cat": "Luna", "house": "1"})
    assert ">SUCCESS<" in houses.client.get(adopted.location).text
    assert houses.house_of("Luna") == 1

    failed = houses.client.get(houses.client.post("/fail").location)
    assert ">FAILURE<" in failed.text
    assert "RuntimeError: this task fails on purpose" in failed.text
    assert "Traceback" not in failed.text

    assert houses.client.post("/adopt", data={"cat": "Luna"}).status_code == 400
