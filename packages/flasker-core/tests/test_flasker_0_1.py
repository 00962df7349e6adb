"""A flasker 0.1 project runs unchanged: its layout, its cfg key names, its CLI habits.

Each behaviour of shared/reference/flasker-0.1-behaviours.md that we keep, and the test that
asserts it (here, or where it already was):

Config
- "ConfigParser file, both = and : separators, read case-sensitively":
  test_config.py::test_both_separators_and_comment_styles, ::test_keys_keep_their_case.
- "Values auto-typed (int, float, bool, None; JSON ...)": test_config.py::test_full_file_is_typed,
  test_values.py; here test_the_readme_sample_cfg_loads_as_0_1_read_it.
- "[PROJECT] NAME, MODULES (comma list, imported in order with the cfg folder on sys.path)":
  test_project.py::test_modules_are_imported_in_order_with_the_cfg_folder_on_sys_path; here
  test_0_1_layout_renders_its_templates_and_serves_its_static_files (`app.views, app.tasks`).
- "APP_FOLDER (`app/`)" (0.1's default, no APP_FOLDER written):
  test_0_1_layout_renders_its_templates_and_serves_its_static_files,
  test_app_folder_is_found_by_either_of_its_folders, test_0_1_layout_through_the_cli; and that
  today's layouts are unchanged: test_templates_beside_the_cfg_still_win,
  test_written_app_folder_wins, test_without_app_files_the_cfg_folder_is_the_app_folder;
  `flasker config show` says which folder was chosen:
  test_config_show_names_the_app_folder_it_chose.
- "APP_STATIC_FOLDER, APP_TEMPLATE_FOLDER, STATIC_URL": test_0_1_key_names_are_read_as_ours,
  test_both_spellings_of_one_key_are_reported_at_the_second,
  test_both_spellings_through_the_cli_are_a_clear_error,
  test_an_environment_override_replaces_the_0_1_spelling.
- "[APP] → Flask config as written; [CELERY] → Celery config as written" (old upper-case Celery
  names): test_the_readme_sample_cfg_loads_as_0_1_read_it; test_celery_keys.py.
- "[ENGINE] (... lower-cased)": test_config.py::test_common_engine_arguments_are_typed_at_their_line
  (`ECHO = yes` is `echo`).
- "Later versions: [SESSION] (SMARTCOMMIT), [FLASK], DISABLE_FLASK / DISABLE_CELERY": not
  aliased (see schema.LEGACY_SECTIONS for why) but each refused with what to write instead:
  test_later_0_1_sections_and_keys_say_what_to_write_instead.
- "SMARTCOMMIT: commit at the end of each request/task, roll back on error, always remove the
  scoped session" (our AUTOCOMMIT): test_project.py::test_autocommit_*,
  ::test_session_is_removed_after_every_request; test_worker.py for tasks.
- "Config discovery: -c/--conf PATH" (0.1's long option): test_conf_is_0_1s_long_option_for_the_cfg.
- "Config discovery: -c PATH, else the only *.cfg ...; with none or several it printed which and
  asked for -c": test_discovery.py::test_the_only_cfg_file,
  ::test_several_cfg_files_are_named_and_c_is_asked_for,
  ::test_nothing_found_lists_every_place_looked.

Project
- "current_project ... exposing .app, .celery, .db / .session": here
  test_0_1_layout_renders_its_templates_and_serves_its_static_files (the README's module, as
  written); test_project.py::test_apps_are_built_on_first_use_only (`.session`).
- "register_manager(manager)":
  test_project.py::test_register_manager_adds_a_blueprint_and_a_startup_step.
- "Tables were created at start-up":
  test_project.py::test_missing_tables_are_created_at_start_without_migrations.

CLI
- "flasker [-c PATH] COMMAND; -h on everything":
  test_cli.py::test_every_command_has_help_without_a_project.
- "server: -p port (5000), -d debug"; "flower: -p port (5555)":
  test_0_1_short_options_of_server_and_flower.
- "server: -r bind 127.0.0.1 only" (our default; -r is --host 127.0.0.1):
  test_server_r_is_0_1s_loopback_only_option,
  test_new_celery_project_serves_with_r_and_its_embedded_worker_runs_the_routed_task.
- "worker: automatic host names, -o direct queue only, -r raw Celery arguments": not kept
  (options flasker worker does not know go to Celery unchanged; name workers with -n).
- "shell: ... the project in the namespace":
  test_cli.py::test_shell_has_the_project_and_its_models_in_its_namespace.
- "new basic: writes default.cfg (+ an app unless -a)":
  test_scaffold.py::test_basic_writes_a_cfg_and_a_package_named_after_the_folder,
  ::test_cli_new_cfg_only_and_options.
- "new celery: ... adds worker host names and task routing": test_scaffold.py::
  test_celery_writes_the_basic_app_and_a_cfg_with_queues_and_routes,
  ::test_celery_project_passes_check_and_routes_its_task_to_its_queue; here
  test_new_celery_project_serves_with_r_and_its_embedded_worker_runs_the_routed_task.

Models
- "table name = snake_case plural (House → houses, MyCat → my_cats), keyword constructor, repr
  with the primary key": test_model.py::test_table_name_is_the_snake_case_plural,
  ::test_0_1_column_style_model_gets_its_table_name_keywords_and_repr,
  ::test_composite_primary_key_repr.
- "helpers to list columns, primary keys and relationships, find_or_create":
  test_listing_helpers_name_columns_primary_keys_and_relationships,
  test_find_or_create_finds_the_first_match_or_adds_a_new_uncommitted_row,
  test_find_or_create_in_a_view_is_committed_with_the_request; the names Model reserves:
  test_model_reserves_only_its_documented_names. Not kept: the JSON `_cache` column and
  `refresh_cache`.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from types import ModuleType

import pytest

from flasker import ConfigError
from flasker.config import load_config, parse_config
from flasker.testing import LiveServer, wait_for

from ._project_helpers import invoke, unique, write_project

pytestmark = pytest.mark.usefixtures("isolated")

#: The cfg of the 0.1 README ("Structuring your project"), without DB_URL and the broker.
CFG_0_1 = "[PROJECT]\nNAME = My Project\nMODULES = app.views, app.tasks\n[APP]\nDEBUG = True\n"

#: app/views.py as the 0.1 README writes it.
VIEWS_0_1 = """
    from flask import render_template
    from flasker import current_project

    # the Flask application
    app = current_project.app

    # the Celery application
    celery = current_project.celery

    # the SQLAlchemy scoped session maker is available on db.session
    db = current_project.db

    @app.route('/')
    def index():
      \"\"\"A random view.\"\"\"
      return render_template('index.html', session_ok=db.session is not None)

    @celery.task
    def task():
      \"\"\"And a great task.\"\"\"
      pass
"""

TASKS_0_1 = """
    from flasker import current_project

    celery = current_project.celery

    @celery.task
    def census():
      return 0
"""


def _files(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _0_1_project(folder: Path, cfg: str = CFG_0_1, **extra: str) -> Path:
    """A project laid out as flasker 0.1 wrote one: default.cfg, and app/ with everything."""
    _files(
        folder,
        {
            "app/templates/index.html": "0.1 page {{ 1 + 1 }} {{ session_ok }}",
            "app/static/style.css": "body { color: red }",
            **extra,
        },
    )
    return write_project(
        folder,
        cfg,
        {"app.__init__": "", "app.views": VIEWS_0_1, "app.tasks": TASKS_0_1},
    )


# -- the layout ---------------------------------------------------------------------------------
def test_0_1_layout_renders_its_templates_and_serves_its_static_files(
    make_project, tmp_path: Path
) -> None:
    _0_1_project(tmp_path)
    project = make_project(CFG_0_1)
    assert project.config.app_folder == tmp_path / "app"
    client = project.app.test_client()
    page = client.get("/")
    assert page.status_code == 200, page.text
    assert page.text == "0.1 page 2 True"
    style = client.get("/static/style.css")
    assert style.status_code == 200
    assert style.data == b"body { color: red }"
    style.close()
    assert {"app.views.task", "app.tasks.census"} <= set(project.celery.tasks)


@pytest.mark.parametrize("present", ["templates", "static"])
def test_app_folder_is_found_by_either_of_its_folders(tmp_path: Path, present: str) -> None:
    (tmp_path / "app" / present).mkdir(parents=True)
    cfg = write_project(tmp_path, CFG_0_1)
    assert load_config(cfg).app_folder == tmp_path / "app"


def test_templates_beside_the_cfg_still_win(make_project, tmp_path: Path) -> None:
    """Today's layout (templates/ beside the cfg) keeps its meaning when app/ also has some."""
    _0_1_project(tmp_path, **{"templates/index.html": "today's page"})
    project = make_project(CFG_0_1)
    assert project.config.app_folder == tmp_path
    assert project.app.test_client().get("/").text == "today's page"


def test_written_app_folder_wins(make_project, tmp_path: Path) -> None:
    _0_1_project(tmp_path, **{"web/templates/index.html": "web page"})
    project = make_project(CFG_0_1.replace("[APP]", "APP_FOLDER = web\n[APP]"))
    assert project.config.app_folder == tmp_path / "web"
    assert project.app.test_client().get("/").text == "web page"


def test_without_app_files_the_cfg_folder_is_the_app_folder(tmp_path: Path) -> None:
    """`flasker new -a` and the minimal template write no app folder: nothing changes there,
    and an app/ package with Python code only (no templates, no static) is not an app folder."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    cfg = write_project(tmp_path, CFG_0_1)
    assert load_config(cfg).app_folder == tmp_path


def test_config_show_names_the_app_folder_it_chose(tmp_path: Path) -> None:
    cfg = _0_1_project(tmp_path)
    shown = invoke(cfg, "config", "show")
    assert shown.exit_code == 0, shown.output
    assert (
        f"# APP_FOLDER not written: {tmp_path / 'app'} (app/ has the templates or static files: "
        "flasker 0.1's default)\n"
    ) in shown.output
    assert json.loads(invoke(cfg, "config", "show", "--json").output)["app_folder"] == str(
        tmp_path / "app"
    )
    (tmp_path / "templates").mkdir()
    assert f"# APP_FOLDER not written: {tmp_path} (the cfg file's folder)\n" in (
        invoke(cfg, "config", "show").output
    )


def test_0_1_layout_through_the_cli(tmp_path: Path) -> None:
    cfg = _0_1_project(tmp_path)
    result = invoke(cfg, "check")
    assert result.exit_code == 0, result.output
    routes = invoke(cfg, "routes", "--json")
    assert routes.exit_code == 0, routes.output
    assert {"/", "/static/<path:filename>"} <= {
        route["rule"] for route in json.loads(routes.output)
    }


# -- 0.1's key names ----------------------------------------------------------------------------
def test_0_1_key_names_are_read_as_ours(make_project, tmp_path: Path) -> None:
    cfg = (
        "[PROJECT]\nNAME = My Project\nMODULES = app.views, app.tasks\n"
        "APP_TEMPLATE_FOLDER = pages\nAPP_STATIC_FOLDER = assets\nSTATIC_URL = /assets\n"
    )
    _0_1_project(
        tmp_path,
        cfg,
        **{"app/pages/index.html": "from pages", "app/assets/site.css": "p {}"},
    )
    project = make_project(cfg)
    config = project.config
    assert config.get("PROJECT", "TEMPLATE_FOLDER") == "pages"
    assert config.get("PROJECT", "STATIC_FOLDER") == "assets"
    assert "APP_TEMPLATE_FOLDER" not in config.section("PROJECT")
    assert config.line_of("PROJECT", "TEMPLATE_FOLDER") == 4
    assert config.line_of("PROJECT", "STATIC_FOLDER") == 5
    client = project.app.test_client()
    assert client.get("/").text == "from pages"
    css = client.get("/assets/site.css")
    assert css.status_code == 200
    assert css.data == b"p {}"
    css.close()


@pytest.mark.parametrize(
    ("first", "second", "ours"),
    [
        ("APP_STATIC_FOLDER", "STATIC_FOLDER", "STATIC_FOLDER"),
        ("TEMPLATE_FOLDER", "APP_TEMPLATE_FOLDER", "TEMPLATE_FOLDER"),
    ],
)
def test_both_spellings_of_one_key_are_reported_at_the_second(
    tmp_path: Path, first: str, second: str, ours: str
) -> None:
    cfg = write_project(tmp_path, f"[PROJECT]\nNAME = x\n{first} = a\n{second} = b\n")
    with pytest.raises(ConfigError) as raised:
        load_config(cfg)
    assert str(raised.value) == (
        f"{cfg}:4: [PROJECT] {second}: {second} and {first} on line 3 are the same setting "
        f"({ours}; flasker 0.1 called it APP_{ours}); keep one"
    )


def test_both_spellings_through_the_cli_are_a_clear_error(tmp_path: Path) -> None:
    cfg = write_project(tmp_path, "[PROJECT]\nNAME = x\nAPP_STATIC_FOLDER = s\nSTATIC_FOLDER = t\n")
    for command in (["check"], ["config", "show"], ["routes"]):
        result = invoke(cfg, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "STATIC_FOLDER and APP_STATIC_FOLDER on line 3 are the same setting" in (
            result.output
        ), command
        assert "Traceback" not in result.output
        assert not isinstance(result.exception, ConfigError)  # handled, not raised through


def test_an_environment_override_replaces_the_0_1_spelling(tmp_path: Path) -> None:
    text = "[PROJECT]\nNAME = x\nAPP_TEMPLATE_FOLDER = pages\n"
    config = parse_config(
        text, tmp_path / "default.cfg", {"FLASKER__PROJECT__TEMPLATE_FOLDER": "views"}
    )
    assert config.get("PROJECT", "TEMPLATE_FOLDER") == "views"


# -- the rest of the 0.1 cfg ----------------------------------------------------------------------
def test_the_readme_sample_cfg_loads_as_0_1_read_it(tmp_path: Path) -> None:
    """The sample of the 0.1 README, word for word: typed [APP] keys, the old Celery name."""
    (tmp_path / "db").mkdir()
    cfg = write_project(
        tmp_path,
        """
        [PROJECT]
        NAME = My Project
        MODULES = app.views, app.tasks
        DB_URL = sqlite:///db/db.sqlite
        [APP]
        # any valid Flask configuration option can go here
        # cf http://flask.pocoo.org/docs/config for the full list
        DEBUG = True
        TESTING = True
        [CELERY]
        # any valid Celery configuration option can go here
        # cf http://docs.celeryproject.org/en/latest/configuration.html
        BROKER_URL = redis://
        """,
    )
    config = load_config(cfg)
    assert config.name == "My Project"
    assert config.modules == ("app.views", "app.tasks")
    assert config.app["DEBUG"] is True
    assert config.app["TESTING"] is True
    assert config.celery["broker_url"] == "redis://"
    assert config.db_url == "sqlite:///db/db.sqlite"


def test_later_0_1_sections_and_keys_say_what_to_write_instead(tmp_path: Path) -> None:
    cfg = write_project(
        tmp_path,
        "[PROJECT]\nNAME = x\nDISABLE_CELERY = True\nDISABLE_FLASK = False\n"
        "[SESSION]\nSMARTCOMMIT = True\n[FLASK]\nDEBUG = True\n",
    )
    result = invoke(cfg, "check")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for expected in (
        f"{cfg}:3: [PROJECT] DISABLE_CELERY: flasker 0.1's DISABLE_CELERY is not needed",
        f"{cfg}:4: [PROJECT] DISABLE_FLASK: flasker 0.1's DISABLE_FLASK is not needed",
        f"{cfg}:5: [SESSION]: flasker 0.1's [SESSION] SMARTCOMMIT is [PROJECT] AUTOCOMMIT here",
        f"{cfg}:7: [FLASK]: flasker 0.1's [FLASK] section is called [APP] here",
    ):
        assert expected in result.output, expected


# -- CLI ----------------------------------------------------------------------------------------
def test_0_1_short_options_of_server_and_flower(tmp_path: Path) -> None:
    server = invoke(None, "server", "-h")
    assert server.exit_code == 0, server.output
    assert "-p, --port" in server.output
    assert "5000" in server.output
    assert "-d, --debug" in server.output
    flower = invoke(None, "flower", "-h")
    assert flower.exit_code == 0, flower.output
    assert "-p, --port" in flower.output
    assert "5555" in flower.output


def test_conf_is_0_1s_long_option_for_the_cfg(tmp_path: Path) -> None:
    cfg = _0_1_project(tmp_path)
    for option in ("--conf", "-c", "--config"):
        result = invoke(None, option, str(cfg), "config", "show")
        assert result.exit_code == 0, (option, result.output)
        assert result.output.startswith(f"# {cfg}\n"), option
    assert "flasker 0.1's --conf PATH works too" in " ".join(invoke(None, "-h").output.split())
    both = invoke(None, "-c", str(cfg), "--conf", str(tmp_path / "other.cfg"), "check")
    assert both.exit_code == 2
    assert "-c/--config and --conf (its flasker 0.1 spelling) name one file" in both.output


def test_server_r_is_0_1s_loopback_only_option(tmp_path: Path) -> None:
    server = invoke(None, "server", "-h")
    assert "-r, --restrict" in server.output
    assert "Listen on 127.0.0.1 only" in server.output
    # -r is --host 127.0.0.1, so it cannot be combined with another address
    clash = invoke(_0_1_project(tmp_path), "server", "-r", "--host", "0.0.0.0")
    assert clash.exit_code == 2
    assert "-r means --host 127.0.0.1; it cannot be combined with --host 0.0.0.0" in clash.output


@pytest.mark.slow
def test_new_celery_project_serves_with_r_and_its_embedded_worker_runs_the_routed_task(
    tmp_path: Path,
) -> None:
    """`flasker new celery` then `flasker server -r`, as a 0.1 user would type them: the page
    answers on 127.0.0.1 and the embedded worker consumes the `reports` queue the cfg routes
    the word count to."""
    folder = tmp_path / unique("shop")
    created = invoke(None, "new", "celery", str(folder))
    assert created.exit_code == 0, created.output
    cfg = folder / "default.cfg"
    with LiveServer(cfg, "-r") as server:
        add = urllib.request.Request(
            server.url + "/notes", data=b"text=three+small+words", method="POST"
        )
        urllib.request.urlopen(add, timeout=10).close()
        with urllib.request.urlopen(
            urllib.request.Request(server.url + "/count", method="POST"), timeout=10
        ) as answer:
            task_page = answer.url  # followed the redirect to the task's page

        def finished() -> str | None:
            with urllib.request.urlopen(task_page, timeout=5) as page:
                text = page.read().decode()
            return text if "SUCCESS" in text else None

        text = wait_for(finished, timeout=60, what="the routed task", log=server.log)
        assert '{"notes":1,"words":3}' in text, text
        output = server.output()
    assert ".> reports" in output, output  # the embedded worker consumes the routed queue


# -- Model helpers ------------------------------------------------------------------------------
MODELS_0_1 = """
    from sqlalchemy import Column, ForeignKey, Integer, String, Unicode
    from sqlalchemy.orm import relationship

    from flasker import current_project
    from flasker.util import Model

    app = current_project.app


    class House(Model):
        id = Column(Integer, primary_key=True)
        address = Column("addr", Unicode(128), nullable=False)
        color = Column(String(16))


    class Cat(Model):
        name = Column(String(64), primary_key=True)
        house_id = Column(ForeignKey(House.id), primary_key=True)
        house = relationship(House, backref="cats")


    @app.post("/houses/<address>")
    def add_house(address):
        house = House.find_or_create(address=address)
        current_project.db.session.flush()  # a new row has no id until flushed
        return {"id": house.id}
"""


def _0_1_models(make_project) -> tuple[object, ModuleType]:
    module = unique("models_0_1")
    project = make_project(f"[PROJECT]\nNAME = models\nMODULES = {module}\n", {module: MODELS_0_1})
    return project, sys.modules[module]


def test_find_or_create_finds_the_first_match_or_adds_a_new_uncommitted_row(
    make_project,
) -> None:
    project, models = _0_1_models(make_project)
    House = models.House
    session = project.db.session
    try:
        with project.db.Session() as other:
            other.add_all([House(address="1 Main St", color="red"), House(address="2 Elm St")])
            other.commit()
        found = House.find_or_create(address="1 Main St")
        assert (found.id, found.color) == (1, "red")
        assert House.find_or_create(address="2 Elm St", color=None).id == 2

        created = House.find_or_create(address="3 Oak St", color="blue")
        assert isinstance(created, House)  # the instance, not (instance, created)
        assert created in session.new  # added to current_project.db.session, not committed
        assert (created.address, created.color) == ("3 Oak St", "blue")
        assert House.find_or_create(address="3 Oak St") is created  # autoflush finds it
        with project.db.Session() as other:
            assert other.query(House).count() == 2  # nothing committed
        session.rollback()
    finally:
        session.remove()


def test_find_or_create_in_a_view_is_committed_with_the_request(make_project) -> None:
    project, models = _0_1_models(make_project)
    client = project.app.test_client()
    first = client.post("/houses/1 Main St")
    assert first.status_code == 200, first.text
    assert client.post("/houses/1 Main St").json == first.json
    assert client.post("/houses/2 Elm St").json == {"id": first.json["id"] + 1}
    with project.db.Session() as other:
        assert other.query(models.House).count() == 2


def test_listing_helpers_name_columns_primary_keys_and_relationships(make_project) -> None:
    _project, models = _0_1_models(make_project)
    House, Cat = models.House, models.Cat
    # attribute names (what the constructor and filter_by take), not column names ("addr")
    assert House.column_names() == ("id", "address", "color")
    assert House.primary_key_names() == ("id",)
    assert House.relationship_names() == ("cats",)  # a backref counts
    assert Cat.column_names() == ("name", "house_id")
    assert Cat.primary_key_names() == ("name", "house_id")
    assert Cat.relationship_names() == ("house",)


def test_model_reserves_only_its_documented_names() -> None:
    """Every public name on `Model` is one a project's column cannot take: keep the list short
    and written down (model.py's docstring, README)."""
    from flasker.model import Model

    ours = {
        name
        for klass in Model.__mro__
        if klass.__module__ == "flasker.model"
        for name in vars(klass)
        if not name.startswith("_")
    }
    assert ours == {
        "metadata",  # SQLAlchemy's, set on the base
        "registry",
        "find_or_create",
        "column_names",
        "primary_key_names",
        "relationship_names",
        "to_dict",
    }
