"""`Project`: one cfg file turned into a Flask app, a database and a Celery app, on SQLite and
on PostgreSQL, with the request/session life cycle of flasker 0.1's SMARTCOMMIT."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, text

from flasker import ConfigError, Manager, Project, ProjectError, current_project
from flasker.exceptions import NoProjectError

from ._project_helpers import models_source, terminate_backends, unique


def _cfg(module: str, extra: str = "", db_url: str | None = None) -> str:
    db = f"DB_URL = {db_url}\n" if db_url else ""
    return f"[PROJECT]\nNAME = test\nMODULES = {module}\n{db}{extra}\n[APP]\nSECRET_KEY = s\n"


# -- building lazily ----------------------------------------------------------------------------
def test_apps_are_built_on_first_use_only(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = lazy\n", start=False)
    assert {"app", "db", "celery"}.isdisjoint(project.__dict__)
    assert project.config.name == "lazy"
    app = project.app
    assert isinstance(app, Flask)
    assert project.app is app
    assert "db" not in project.__dict__
    assert "celery" not in project.__dict__
    assert project.session is project.db.session
    assert "celery" not in project.__dict__


def test_folders_are_relative_to_the_cfg(make_project, tmp_path: Path, monkeypatch) -> None:
    module = unique("folders")
    (tmp_path / "web" / "pages").mkdir(parents=True)
    (tmp_path / "web" / "pages" / "hello.html").write_text("hello {{ name }}")
    (tmp_path / "web" / "assets").mkdir()
    (tmp_path / "web" / "assets" / "site.css").write_text("body {}")
    source = """
        from flask import render_template
        from flasker import current_project

        @current_project.app.get("/")
        def index():
            return render_template("hello.html", name="cat")
    """
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    project = make_project(
        _cfg(
            module,
            "APP_FOLDER = web\nTEMPLATE_FOLDER = pages\nSTATIC_FOLDER = assets\nSTATIC_URL = /s\n",
        ),
        {module: source},
    )
    client = project.app.test_client()
    assert client.get("/").text == "hello cat"
    response = client.get("/s/site.css")
    assert response.status_code == 200
    assert response.data == b"body {}"
    response.close()
    # the embedded SQLite database also lives beside the cfg, not in the current folder
    assert project.db.engine.url.database == str(tmp_path / "db.sqlite")


# -- MODULES ------------------------------------------------------------------------------------
def test_modules_are_imported_in_order_with_the_cfg_folder_on_sys_path(make_project, tmp_path):
    first, second = unique("first"), unique("second")
    order = unique("order")
    project = make_project(
        _cfg(f"{first}, {second}"),
        {
            order: "seen = []\n",
            first: f"import {order}\n{order}.seen.append('first')\n",
            second: f"import {order}\nimport {first}\n{order}.seen.append('second')\n",
        },
    )
    assert sys.modules[order].seen == ["first", "second"]
    assert str(tmp_path) in sys.path
    assert project.is_started


def test_modules_in_a_package(make_project) -> None:
    package = unique("pkg")
    project = make_project(
        _cfg(f"{package}.views"),
        {
            f"{package}.__init__": "",
            f"{package}.views": (
                "from flasker import current_project\n"
                "current_project.app.add_url_rule('/p', 'p', lambda: 'in a package')\n"
            ),
        },
    )
    assert project.app.test_client().get("/p").text == "in a package"


def test_missing_module_names_the_module_and_the_cfg_line(make_project, tmp_path) -> None:
    present, missing = unique("present"), unique("missing")
    cfg = f"[PROJECT]\nNAME = t\n\nMODULES = {present}, {missing}\n"
    with pytest.raises(ConfigError) as raised:
        make_project(cfg, {present: ""})
    message = str(raised.value)
    assert missing in message
    assert f"{tmp_path / 'default.cfg'}:4" in message
    assert raised.value.line == 4
    assert raised.value.key == "MODULES"


def test_import_error_inside_a_module_is_a_project_error_with_the_cause(make_project) -> None:
    module = unique("broken")
    source = "import json\nimport no_such_dependency_xyz\n"
    with pytest.raises(ProjectError) as raised:
        make_project(_cfg(module), {module: source})
    message = str(raised.value)
    assert module in message
    assert "no_such_dependency_xyz" in message
    assert isinstance(raised.value.__cause__, ModuleNotFoundError)


def test_exception_inside_a_module_is_a_project_error_with_the_cause(make_project) -> None:
    module = unique("raises")
    with pytest.raises(ProjectError, match=rf"{module}.*ZeroDivisionError") as raised:
        make_project(_cfg(module), {module: "x = 1 / 0\n"})
    assert isinstance(raised.value.__cause__, ZeroDivisionError)


def test_starting_twice_is_an_error(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = twice\n")
    with pytest.raises(ProjectError, match="already started"):
        project.start()


# -- tables -------------------------------------------------------------------------------------
def test_missing_tables_are_created_at_start_without_migrations(make_project) -> None:
    module = unique("tables")
    project = make_project(_cfg(module), {module: models_source()})
    with project.db.engine.connect() as connection:
        names = set(
            connection.execute(text("SELECT name FROM sqlite_master WHERE type='table'")).scalars()
        )
    assert {"houses", "cats"} <= names


def test_create_tables_off_leaves_the_database_alone(make_project) -> None:
    module = unique("notables")
    project = make_project(_cfg(module, "CREATE_TABLES = false"), {module: models_source()})
    with project.db.engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM sqlite_master")).scalar()
    assert count == 0


# -- the session life cycle ---------------------------------------------------------------------
def _houses_project(make_project, extra: str = "", db_url: str | None = None):
    module = unique("houses")
    project = make_project(_cfg(module, extra, db_url), {module: models_source()})
    return project, sys.modules[module]


def _committed_count(project: Project) -> int:
    with project.db.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM houses")).scalar()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request) -> str | None:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return None


def test_autocommit_commits_a_successful_request(make_project, db_url) -> None:
    project, _module = _houses_project(make_project, db_url=db_url)
    client = project.app.test_client()
    assert client.post("/houses?address=1 Main St").status_code == 201
    assert _committed_count(project) == 1
    assert client.get("/houses").json == {"count": 1}


@pytest.mark.parametrize("status", [400, 404, 500])
def test_autocommit_rolls_back_an_error_response(make_project, status) -> None:
    project, _module = _houses_project(make_project)
    client = project.app.test_client()
    assert client.post(f"/houses?address=x&status={status}").status_code == status
    assert _committed_count(project) == 0


def test_autocommit_rolls_back_an_exception(make_project, db_url) -> None:
    project, _module = _houses_project(make_project, db_url=db_url)
    client = project.app.test_client()
    assert client.post("/houses?address=x&explode=1").status_code == 500
    assert _committed_count(project) == 0
    # the next request starts from a clean session
    assert client.post("/houses?address=y").status_code == 201
    assert _committed_count(project) == 1


def test_without_autocommit_nothing_is_committed(make_project) -> None:
    project, _module = _houses_project(make_project, "AUTOCOMMIT = false")
    client = project.app.test_client()
    assert client.post("/houses?address=x").status_code == 201
    assert _committed_count(project) == 0


def test_session_is_removed_after_every_request(make_project, db_url) -> None:
    project, _module = _houses_project(make_project, db_url=db_url)
    seen = []

    @project.app.get("/session-id")
    def session_id():
        seen.append(project.db.session())
        return "ok"

    client = project.app.test_client()
    for _ in range(3):
        client.get("/session-id")
        assert not project.db.session.registry.has()
    assert len({id(s) for s in seen}) == 3
    # and the pool got every connection back
    assert project.db.engine.pool.checkedout() == 0


def test_requests_use_one_connection_checkout_each(make_project) -> None:
    project, _module = _houses_project(make_project)
    checkouts = []
    event.listen(project.db.engine, "checkout", lambda *a: checkouts.append(1))
    client = project.app.test_client()
    for _ in range(4):
        client.post("/houses?address=x")
    assert len(checkouts) == 4
    assert project.db.engine.pool.checkedout() == 0


# -- a database that cannot answer: 503, not 500 ---------------------------------------------------
@pytest.mark.postgres
@pytest.mark.faults
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_meeting_a_lost_connection_answers_503_and_the_next_one_works(
    make_project, postgres_url, caplog, method
) -> None:
    # without pre-ping the pooled connection whose backend died reaches the view
    project, _module = _houses_project(
        make_project, "\n[ENGINE]\npool_pre_ping = false\n", db_url=postgres_url
    )
    client = project.app.test_client()
    assert client.get("/houses").json == {"count": 0}
    assert terminate_backends(postgres_url) == 1
    caplog.set_level(logging.WARNING)
    response = client.open("/houses?address=x", method=method)
    text_ = response.get_data(as_text=True)
    assert response.status_code == 503, text_
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"] == "5"
    assert "nothing of this request was stored" in text_
    assert "Traceback" not in text_
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"database unavailable, answered 503 to {method} /houses: OperationalError: "
        "terminating connection due to administrator command"
    ]
    assert not [r for r in caplog.records if r.exc_info]  # one line, no traceback
    assert _committed_count(project) == 0
    # recovered by itself: the pool replaced the connection
    assert client.post("/houses?address=y").status_code == 201
    assert client.get("/houses").json == {"count": 1}


@pytest.mark.postgres
@pytest.mark.faults
def test_a_commit_that_loses_its_connection_says_the_change_may_be_stored(
    make_project, postgres_url
) -> None:
    project, _module = _houses_project(make_project, db_url=postgres_url)
    killed: list[int] = []

    def terminate_before_commit(connection) -> None:
        if not killed:  # the backend dies between the INSERT and the COMMIT
            pid = connection.connection.dbapi_connection.info.backend_pid
            killed.append(terminate_backends(postgres_url, pid))

    event.listen(project.db.engine, "commit", terminate_before_commit)
    client = project.app.test_client()
    response = client.post("/houses?address=x")
    assert killed == [1]
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    assert "may or may not be stored" in response.get_data(as_text=True)
    assert _committed_count(project) == 0  # this time PostgreSQL never saw the COMMIT
    assert client.post("/houses?address=y").status_code == 201
    assert _committed_count(project) == 1


def test_other_database_errors_still_reach_the_apps_handler_or_answer_500(make_project) -> None:
    from sqlalchemy.exc import OperationalError

    plain, _ = _houses_project(make_project)
    module = unique("handled")
    handled = make_project(_cfg(module), {module: models_source("Handled")})
    seen: list[BaseException] = []

    @handled.app.errorhandler(Exception)
    def on_error(error: Exception):
        seen.append(error)
        return "handled", 418

    def route_to_a_missing_table(project: Project) -> None:
        @project.app.get("/broken")
        def broken():
            return str(project.db.session.execute(text("SELECT * FROM nope")).all())

    route_to_a_missing_table(plain)
    route_to_a_missing_table(handled)
    assert plain.app.test_client().get("/broken").status_code == 500
    assert handled.app.test_client().get("/broken").status_code == 418
    assert [type(e) for e in seen] == [OperationalError]


# -- current_project ----------------------------------------------------------------------------
def test_current_project_inside_the_app_context(make_project) -> None:
    first = make_project("[PROJECT]\nNAME = first\n", start=False)
    second = make_project("[PROJECT]\nNAME = second\n", start=False, folder=first.folder / "b")
    second.activate()
    with first.app.app_context():
        assert current_project.config.name == "first"
    assert current_project.config.name == "second"


def test_current_project_through_activate_and_with(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = active\n", start=False)
    with pytest.raises(NoProjectError, match="no active project"):
        _ = current_project.config
    with project:
        assert current_project.config.name == "active"
        assert current_project._get_current_object() is project
    with pytest.raises(NoProjectError):
        _ = current_project.config
    project.activate()
    assert current_project.config.name == "active"
    project.deactivate()
    with pytest.raises(NoProjectError):
        _ = current_project.config


def test_modules_see_their_project_while_imported(make_project) -> None:
    module = unique("sees")
    project = make_project(
        _cfg(module),
        {module: "from flasker import current_project\nname = current_project.config.name\n"},
    )
    assert sys.modules[module].name == project.config.name == "test"


# -- managers -----------------------------------------------------------------------------------
class Recorder(Manager):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def init_project(self, project: Project) -> None:
        from flask import Blueprint

        self.calls.append("init")
        blueprint = Blueprint("recorder", __name__, url_prefix="/rec")
        blueprint.add_url_rule("/", "index", lambda: ",".join(self.calls))
        project.app.register_blueprint(blueprint)

    def on_start(self, project: Project) -> None:
        self.calls.append(f"start after {len(project.config.modules)} module(s)")


def test_register_manager_adds_a_blueprint_and_a_startup_step(make_project) -> None:
    module = unique("managed")
    source = """
        from flasker import current_project
        from tests.test_project import Recorder

        manager = current_project.register_manager(Recorder())
        calls_at_import = list(manager.calls)
    """
    project = make_project(_cfg(module), {module: source})
    loaded = sys.modules[module]
    assert loaded.calls_at_import == ["init"]
    assert project.managers == [loaded.manager]
    assert project.app.test_client().get("/rec/").text == "init,start after 1 module(s)"


def test_registering_a_manager_twice_is_an_error(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = m\n", start=False)
    manager = Manager()
    project.register_manager(manager)
    with pytest.raises(ProjectError, match="already registered"):
        project.register_manager(manager)


def test_registering_after_start_is_an_error(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = m\n")
    with pytest.raises(ProjectError, match=r"after the project started.*MODULES"):
        project.register_manager(Manager())
    assert project.managers == []


def test_manager_settings_read_its_section(make_project) -> None:
    class Cached(Manager):
        config_section = "CACHE"

    project = make_project("[PROJECT]\nNAME = m\n[CACHE]\nDEFAULT_TIMEOUT = 7\n", start=False)
    assert Cached().settings(project)["DEFAULT_TIMEOUT"] == 7
    assert Manager().settings(project) == {}


# -- PostgreSQL -------------------------------------------------------------------------------
@pytest.mark.postgres
def test_project_on_postgresql_creates_tables_and_serves(make_project, postgres_url) -> None:
    project, module = _houses_project(make_project, db_url=postgres_url)
    assert project.db.engine.dialect.name == "postgresql"
    client = project.app.test_client()
    for address in ("a", "b"):
        assert client.post(f"/houses?address={address}").status_code == 201
    assert client.get("/houses").json == {"count": 2}
    with project.db.Session() as session:
        assert sorted(h.address for h in session.query(module.House)) == ["a", "b"]


@pytest.mark.postgres
def test_unreachable_postgresql_names_db_url(make_project) -> None:
    module = unique("closed")
    with pytest.raises(ConfigError, match=r"DB_URL.*does not answer"):
        make_project(
            _cfg(module, db_url="postgresql+psycopg://postgres@127.0.0.1:1/none"),
            {module: models_source()},
        )


def test_start_logs_the_tables_it_created(make_project, caplog) -> None:
    caplog.set_level(logging.INFO, logger="flasker.project")
    _houses_project(make_project)
    assert any("created tables: houses, cats" in r.getMessage() for r in caplog.records)


def test_a_second_project_importing_the_same_module_is_an_error(make_project, tmp_path) -> None:
    """Python runs a module once: the second project would silently get an empty app."""
    module = unique("twice")
    source = "from flasker import current_project\nfrom flask import Blueprint\n"
    first = make_project(_cfg(module), {module: source})
    with pytest.raises(ProjectError, match="already imported by") as raised:
        make_project(_cfg(module), {module: source}, folder=tmp_path / "second")
    assert module in str(raised.value)
    assert repr(first) in str(raised.value)
