"""The bundled example, `examples/houses`: it loads, seeds itself, lists houses, runs its tasks.

The example closes itself with flasker-auth (`houses/auth.py`): anonymous visitors are sent to
sign in and the API wants a token. The test client signs in as a newcomer does, through the
one-time link that `flasker server` prints (`Manager.on_serve`, then a GET of the link).

Each test runs a copy in `tmp_path` (never the repository's folder, whose database is the
developer's). The copy's package gets a unique name, and MODULES/APP_FOLDER are overridden
through `FLASKER__PROJECT__*` variables, so tasks and modules of one test never meet another's
in this process (Celery keeps a process-wide list of decorated tasks).
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from flasker import Project, load_config
from flasker.manager import ServeInfo

from ._project_helpers import close_project, unique

# every test here may start a project: put the process back afterwards
pytestmark = pytest.mark.usefixtures("isolated")

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "houses"
PACKAGE = "houses"
ADDRESSES = ["1 Rue des Chats, Paris", "42 Wallaby Way, Sydney", "221B Baker Street, London"]
SEEDED_CENSUS = {"houses": dict(zip(ADDRESSES, [2, 1, 3], strict=True)), "total": 6}
DEV_LINK = re.compile(r"flasker: sign in at http://127\.0\.0\.1:5000(/auth/dev/[A-Za-z0-9_\-]+)")


class Example:
    """A started copy of the example, with handles on its models and tasks."""

    def __init__(self, project: Project, package: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.project = project
        self.package = package
        self.capsys = capsys
        self.anonymous = project.app.test_client()
        self.client = project.app.test_client()
        assert self.sign_in(self.client).status_code == 302
        models = __import__(f"{package}.models", fromlist=["House"])
        self.House, self.Cat = models.House, models.Cat

    def dev_link(self) -> str:
        """What `flasker server` prints on loopback: the path of a one-time sign-in link."""
        self.capsys.readouterr()
        serving = ServeInfo(host="127.0.0.1", port=5000, debug=False, prod=False)
        for manager in self.project.managers:
            manager.on_serve(self.project, serving)
        printed = self.capsys.readouterr().err
        (path,) = DEV_LINK.findall(printed)
        return path

    def sign_in(self, client: Any) -> Any:
        return client.get(self.dev_link())

    def task(self, name: str) -> Any:
        return self.project.celery.tasks[f"{self.package}.tasks.{name}"]

    def census(self) -> dict[str, Any]:
        return self.task("census").apply().get()

    def house_of(self, cat: str) -> int | None:
        with self.project.db.Session() as session:
            return session.get(self.Cat, cat).house_id


@pytest.fixture
def example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., Example]]:
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
        return Example(project, package, capsys)

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
    assert config.modules == (
        "houses.models",
        "houses.tasks",
        "houses.views",
        "houses.api",
        "houses.auth",
        "houses.console",
    )
    assert config.section("AUTH")["DEV_LOGIN"] == "true"


def test_it_asks_for_sign_in_and_the_printed_link_signs_in(
    example: Callable[..., Example],
) -> None:
    houses = example()
    visitor = houses.anonymous
    home = visitor.get("/")
    assert home.status_code == 302
    assert home.location == "/auth/login?next=/"
    sign_in = visitor.get(home.location)
    assert sign_in.status_code == 200
    assert "flasker: sign in at" in sign_in.text
    assert "/_flasker/static/vendor/bootstrap.min.css" in sign_in.text
    refused = visitor.post("/api/houses/", json={"address": "1 Nowhere Lane"})
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    assert visitor.post("/census").status_code == 302  # no task for anonymous visitors

    link = houses.dev_link()
    assert visitor.get(link).status_code == 302
    page = visitor.get("/")
    assert page.status_code == 200
    assert "admin@localhost" in page.text
    assert 'data-testid="sign-out"' in page.text
    assert houses.anonymous.get(link).status_code == 404  # used


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
    started = houses.client.post("/census", data=form(houses.client))
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
    status = houses.client.get(
        "/tasks/" + houses.client.post("/census", data=form(houses.client)).location.split("/")[-1]
    )
    assert ">SUCCESS<" in status.text
    assert "http-equiv" not in status.text
    assert '<th class="text-end">6</th>' in status.text

    adopted = houses.client.post("/adopt", data=form(houses.client, cat="Luna", house="1"))
    assert ">SUCCESS<" in houses.client.get(adopted.location).text
    assert houses.house_of("Luna") == 1

    failed = houses.client.get(houses.client.post("/fail", data=form(houses.client)).location)
    assert ">FAILURE<" in failed.text
    assert "RuntimeError: this task fails on purpose" in failed.text
    assert "Traceback" not in failed.text

    assert houses.client.post("/adopt", data=form(houses.client, cat="Luna")).status_code == 400


def form(client: Any, **fields: str) -> dict[str, str]:
    """The page's form fields: what the browser sends, CSRF token included."""
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the page carries no CSRF token"
    return {"csrf_token": token.group(1), **fields}


def test_a_form_post_without_its_csrf_token_is_refused(example: Callable[..., Example]) -> None:
    houses = example()
    before = houses.client.get("/").get_data(as_text=True)
    refused = houses.client.post("/census")
    assert refused.status_code == 400
    assert "not sent by this site" in refused.get_data(as_text=True)
    assert houses.client.post("/adopt", data={"cat": "Luna", "house": "1"}).status_code == 400
    assert houses.client.get("/").get_data(as_text=True).count("Luna") == before.count("Luna")
