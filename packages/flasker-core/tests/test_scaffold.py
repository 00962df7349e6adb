"""`flasker new` (`flasker.scaffold`): all-or-nothing project generation from the bundled templates.

Generated projects are started for real in this process. Each one gets a unique folder name, so
its package name is unique too, and the `isolated` fixture unimports it and unmaps its models.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from flasker import FlaskerError, Project, load_config
from flasker.cli import cli
from flasker.scaffold import package_name, scaffold

from ._project_helpers import close_project, invoke, unique

# every test here may start a project: put the process back afterwards
pytestmark = pytest.mark.usefixtures("isolated")

BASIC_APP = [
    "__init__.py",
    "models.py",
    "static/style.css",
    "tasks.py",
    "templates/base.html",
    "templates/index.html",
    "templates/task.html",
    "views.py",
]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content, to prove nothing was written."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def start() -> Iterator[Callable[[Path], Project]]:
    """Start the project of a cfg path; close every project started after the test (before
    `isolated` puts the process back)."""
    started: list[Project] = []

    def run(cfg: Path) -> Project:
        project = Project(cfg)
        started.append(project)
        return project.start()

    yield run
    for project in started:
        close_project(project)


# -- what each template writes ------------------------------------------------------------------
def test_basic_writes_a_cfg_and_a_package_named_after_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "My Blog-2"
    written = scaffold(folder)
    assert written[0] == folder / "default.cfg"
    assert written[1:] == [folder / "my_blog_2" / name for name in BASIC_APP]
    assert all(path.is_file() for path in written)
    text = (folder / "default.cfg").read_text()
    assert "NAME = My Blog-2\n" in text
    assert "MODULES = my_blog_2.models, my_blog_2.tasks, my_blog_2.views\n" in text
    assert "# DB_URL = " in text  # commented out: embedded SQLite
    assert "# broker_url = " in text  # commented out: embedded broker
    assert "SECRET_KEY = ${SECRET_KEY:-" in text
    config = load_config(folder / "default.cfg", environ={})
    assert config.name == "My Blog-2"
    assert config.modules == ("my_blog_2.models", "my_blog_2.tasks", "my_blog_2.views")
    assert config.app_folder == folder / "my_blog_2"
    assert config.db_url == f"sqlite:///{folder / 'db.sqlite'}"
    assert config.is_embedded_broker
    assert len(config.app["SECRET_KEY"]) >= 32
    assert (
        load_config(folder / "default.cfg", environ={"SECRET_KEY": "s3"}).app["SECRET_KEY"] == "s3"
    )


def test_each_project_gets_its_own_development_secret(tmp_path: Path) -> None:
    scaffold(tmp_path / "one", with_app=False)
    scaffold(tmp_path / "two", with_app=False)
    one = load_config(tmp_path / "one" / "default.cfg", environ={}).app["SECRET_KEY"]
    two = load_config(tmp_path / "two" / "default.cfg", environ={}).app["SECRET_KEY"]
    assert one != two


def test_minimal_writes_a_cfg_and_one_module(tmp_path: Path) -> None:
    folder = tmp_path / "svc"
    assert scaffold(folder, template="minimal") == [folder / "default.cfg", folder / "svc.py"]
    assert load_config(folder / "default.cfg", environ={}).modules == ("svc",)


def test_celery_writes_the_basic_app_and_a_cfg_with_queues_and_routes(tmp_path: Path) -> None:
    """flasker 0.1's second template: the basic project, plus task routing and worker names."""
    folder = tmp_path / "shop"
    written = scaffold(folder, template="celery")
    assert written == [folder / "default.cfg", *(folder / "shop" / name for name in BASIC_APP)]
    basic = tmp_path / "basic" / "shop"
    scaffold(basic, template="basic", name="shop")
    for name in BASIC_APP:  # the very same app
        assert (folder / "shop" / name).read_bytes() == (basic / "shop" / name).read_bytes()
    config = load_config(folder / "default.cfg", environ={})
    assert config.celery["task_queues"] == {"celery": {}, "reports": {}}
    assert config.celery["task_routes"] == {"shop.tasks.count_words": {"queue": "reports"}}
    assert config.is_embedded_broker
    text = (folder / "default.cfg").read_text()
    assert "#   flasker worker -n reports@%h -Q reports\n" in text
    assert "# broker_url = " in text


def test_celery_with_a_broker_url_writes_it(tmp_path: Path) -> None:
    scaffold(tmp_path, template="celery", name="shop", broker_url="redis://r:6379/2")
    config = load_config(tmp_path / "default.cfg", environ={})
    assert config.celery["broker_url"] == "redis://r:6379/2"
    assert config.celery["task_routes"] == {"shop.tasks.count_words": {"queue": "reports"}}


@pytest.mark.parametrize("template", ["basic", "celery", "minimal"])
def test_without_app_only_the_cfg_is_written_and_it_loads(
    tmp_path: Path, template: str, start: Callable[[Path], Project]
) -> None:
    folder = tmp_path / unique("cfgonly")
    assert scaffold(folder, template=template, with_app=False) == [folder / "default.cfg"]
    assert sorted(os.listdir(folder)) == ["default.cfg"]
    text = (folder / "default.cfg").read_text()
    assert f"# MODULES = {package_name(folder.name)}" in text
    project = start(folder / "default.cfg")
    assert project.config.modules == ()
    assert project.app.test_client().get("/").status_code == 404


@pytest.mark.parametrize(
    ("project_name", "package"),
    [("blog", "blog"), ("My Blog", "my_blog"), ("cats.and-dogs", "cats_and_dogs")],
)
def test_package_names_are_identifier_slugs(project_name: str, package: str) -> None:
    assert package_name(project_name) == package


@pytest.mark.parametrize("taken", ["json", "celery", "flask"])
def test_a_package_name_that_would_shadow_an_importable_module_gets_a_suffix(
    tmp_path: Path, taken: str
) -> None:
    scaffold(tmp_path / taken)
    assert (tmp_path / taken / f"{taken}_app" / "views.py").is_file()
    assert not (tmp_path / taken / taken).exists()


def test_name_option_names_the_project_and_its_package(tmp_path: Path) -> None:
    folder = tmp_path / "x"
    scaffold(folder, template="minimal", name="Cat Tracker")
    assert (folder / "cat_tracker.py").is_file()
    assert load_config(folder / "default.cfg", environ={}).name == "Cat Tracker"


def test_db_and_broker_urls_are_written_so_they_read_back_unchanged(tmp_path: Path) -> None:
    db_url = "postgresql+psycopg://cat:pa$$word@127.0.0.1:5432/cats"
    scaffold(
        tmp_path, template="minimal", with_app=False, db_url=db_url, broker_url="redis://r:6379/2"
    )
    config = load_config(tmp_path / "default.cfg", environ={})
    assert config.db_url == db_url
    assert config.celery["broker_url"] == "redis://r:6379/2"
    assert config.celery["result_backend"] == "redis://r:6379/2"
    assert not config.is_embedded_broker


# -- generated projects work -----------------------------------------------------------------------
def test_basic_project_starts_serves_its_page_and_runs_its_task(
    tmp_path: Path, start: Callable[[Path], Project]
) -> None:
    folder = tmp_path / unique("blog")
    package = folder.name
    scaffold(folder)
    project = start(folder / "default.cfg")
    client = project.app.test_client()

    page = client.get("/")
    assert page.status_code == 200
    assert "No notes yet." in page.text
    assert "/_flasker/static/vendor/bootstrap.min.css" in page.text
    css = client.get("/static/style.css")
    assert css.status_code == 200
    css.close()

    assert client.post("/notes", data={"text": "three small words"}).status_code == 302
    assert client.post("/notes", data={"text": "two more"}).status_code == 302
    assert "three small words" in client.get("/").text

    task = project.celery.tasks[f"{package}.tasks.count_words"]
    assert task.apply().get() == {"notes": 2, "words": 5}

    started = client.post("/count")  # queued on the embedded broker; no worker in this test
    assert started.status_code == 302
    status = client.get(started.location)
    assert status.status_code == 200
    assert "PENDING" in status.text
    assert '<meta http-equiv="refresh"' in status.text


def test_celery_project_passes_check_and_routes_its_task_to_its_queue(
    tmp_path: Path, start: Callable[[Path], Project]
) -> None:
    folder = tmp_path / unique("shop")
    scaffold(folder, template="celery")
    cfg = folder / "default.cfg"
    check = invoke(cfg, "check")
    assert check.exit_code == 0, check.output
    assert "FAIL" not in check.output
    project = start(cfg)
    client = project.app.test_client()
    assert client.post("/notes", data={"text": "routed"}).status_code == 302
    assert "routed" in client.get("/").text
    task = project.celery.tasks[f"{folder.name}.tasks.count_words"]
    assert task.apply().get() == {"notes": 1, "words": 1}

    started = client.post("/count")  # queued on the embedded broker, in the reports queue
    assert started.status_code == 302
    assert "PENDING" in client.get(started.location).text
    queue = folder / ".flasker" / "broker" / "queue"
    waiting = [path.name for path in queue.iterdir() if path.name.endswith(".msg")]
    assert len(waiting) == 1
    assert waiting[0].endswith(".reports.msg"), waiting


def test_minimal_project_starts_serves_its_page_and_runs_its_task(
    tmp_path: Path, start: Callable[[Path], Project]
) -> None:
    folder = tmp_path / unique("svc")
    scaffold(folder, template="minimal")
    project = start(folder / "default.cfg")
    page = project.app.test_client().get("/")
    assert page.status_code == 200
    assert "It works." in page.text
    assert project.celery.tasks[f"{folder.name}.add"].apply((2, 3)).get() == 5


# -- refusing -----------------------------------------------------------------------------------
def test_existing_files_are_refused_by_name_and_nothing_is_written(tmp_path: Path) -> None:
    (tmp_path / "default.cfg").write_text("# mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(FlaskerError) as raised:
        scaffold(tmp_path, name="blog")
    message = str(raised.value)
    assert str(tmp_path / "default.cfg") in message
    assert "--force" in message
    assert snapshot(tmp_path) == before


def test_every_refused_file_is_named(tmp_path: Path) -> None:
    scaffold(tmp_path, name="blog")
    (tmp_path / "blog" / "views.py").write_text("# my views\n")
    before = snapshot(tmp_path)
    with pytest.raises(FlaskerError) as raised:
        scaffold(tmp_path, name="blog")
    message = str(raised.value)
    for name in ["default.cfg", *BASIC_APP]:
        assert str(tmp_path / ("" if name == "default.cfg" else "blog") / name) in message
    assert snapshot(tmp_path) == before


def test_force_overwrites(tmp_path: Path) -> None:
    (tmp_path / "default.cfg").write_text("# mine\n")
    written = scaffold(tmp_path, template="minimal", name="svc", force=True)
    assert written == [tmp_path / "default.cfg", tmp_path / "svc.py"]
    assert "[PROJECT]" in (tmp_path / "default.cfg").read_text()


def test_a_folder_in_the_way_of_a_file_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "default.cfg").mkdir()
    with pytest.raises(FlaskerError, match="is a folder where a file must go"):
        scaffold(tmp_path, name="blog", force=True)
    assert not (tmp_path / "blog").exists()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"name": "1st"}, "not a usable project name"),
        ({"name": "cats/dogs"}, "not a usable project name"),
        ({"name": "class"}, "not a usable project name"),
        ({"name": ""}, "not a usable project name"),
        ({"name": "x${HOME}"}, "not a usable project name"),
        ({"template": "fancy"}, "unknown template 'fancy'"),
        ({"db_url": "not a url"}, "is not a SQLAlchemy URL"),
        ({"db_url": "postgersql://u@h/db"}, "unknown database dialect 'postgersql'"),
        ({"db_url": "sqlite:///a\n[CELERY]"}, "one line"),
        ({"broker_url": "localhost:6379"}, "is not a URL"),
        ({"broker_url": "redsi://localhost"}, "unknown transport 'redsi'"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    tmp_path: Path, options: dict[str, str], expected: str
) -> None:
    folder = tmp_path / "project"
    with pytest.raises(FlaskerError, match=expected):
        scaffold(folder, **options)
    assert not folder.exists()


def test_every_bad_input_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(FlaskerError) as raised:
        scaffold(tmp_path / "p", name="9", db_url="nope", broker_url="nope")
    message = str(raised.value)
    assert "project name" in message
    assert "SQLAlchemy URL" in message
    assert "not a URL" in message


def test_an_unusable_folder_name_asks_for_a_name(tmp_path: Path) -> None:
    with pytest.raises(FlaskerError, match="--name"):
        scaffold(tmp_path / "2024")
    assert not (tmp_path / "2024").exists()


# -- through the CLI ------------------------------------------------------------------------------
def test_cli_new_creates_then_refuses_then_forces(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "shop"
    created = runner.invoke(cli, ["new", "basic", str(folder)])
    assert created.exit_code == 0, created.output
    assert f"wrote {folder / 'default.cfg'}" in created.output
    assert (folder / "shop" / "views.py").is_file()

    (folder / "default.cfg").write_text("# edited\n")
    refused = runner.invoke(cli, ["new", "basic", str(folder)])
    assert refused.exit_code == 1
    assert str(folder / "default.cfg") in refused.output
    assert "--force" in refused.output
    assert "Traceback" not in refused.output
    assert (folder / "default.cfg").read_text() == "# edited\n"

    forced = runner.invoke(cli, ["new", "basic", "--force", str(folder)])
    assert forced.exit_code == 0, forced.output
    assert "[PROJECT]" in (folder / "default.cfg").read_text()


def test_cli_new_cfg_only_and_options(tmp_path: Path) -> None:
    folder = tmp_path / "svc"
    result = CliRunner().invoke(
        cli,
        [
            "new",
            "minimal",
            "-a",
            "--name",
            "Service",
            "--db-url",
            "sqlite:///svc.sqlite",
            str(folder),
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(os.listdir(folder)) == ["default.cfg"]
    config = load_config(folder / "default.cfg", environ={})
    assert config.name == "Service"
    assert config.get("PROJECT", "DB_URL") == "sqlite:///svc.sqlite"


def test_cli_new_bad_db_url_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "svc"
    result = CliRunner().invoke(cli, ["new", "minimal", "--db-url", "nope", str(folder)])
    assert result.exit_code == 1
    assert "SQLAlchemy URL" in result.output
    assert not folder.exists()
