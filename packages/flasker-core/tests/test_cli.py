"""The `flasker` CLI through click's runner: help everywhere, clean errors, the db group, and
the inspection commands (routes, tasks, config show, check) that tools and the console read."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest

from flasker.cli import cli

from ._project_helpers import invoke, models_source, unique, write_project

pytestmark = pytest.mark.usefixtures("isolated")

CLOSED_POSTGRES = "postgresql+psycopg://alice:hunter2@127.0.0.1:1/nowhere"


def _project(tmp_path: Path, extra: str = "", sections: str = "") -> Path:
    module = unique("climod")
    cfg = f"[PROJECT]\nNAME = cli-test\nMODULES = {module}\n{extra}\n{sections}"
    return write_project(tmp_path, cfg, {module: models_source()})


def _all_commands() -> list[list[str]]:
    """Every command path, groups included: ['db', 'upgrade'], ['routes'], ..."""
    paths: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return paths


# -- help, usage --------------------------------------------------------------------------------
def test_top_level_help_lists_the_commands() -> None:
    for flag in ("-h", "--help"):
        result = invoke(None, flag)
        assert result.exit_code == 0
        for name in ("new", "server", "worker", "flower", "shell", "db", "routes", "tasks"):
            assert f"  {name}" in result.output
        assert "-c, --config PATH" in result.output


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_has_help_without_a_project(path: list[str], tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # no cfg anywhere: help must not need one
    monkeypatch.delenv("FLASKER_CONFIG", raising=False)
    result = invoke(None, *path, "-h")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: cli {' '.join(path)}")
    assert "Error" not in result.output


def test_unknown_command_is_a_usage_error(tmp_path) -> None:
    result = invoke(_project(tmp_path), "serve")
    assert result.exit_code == 2
    assert "No such command 'serve'" in result.output
    assert "Did you mean" in result.output or "server" in result.output


def test_version() -> None:
    result = invoke(None, "--version")
    assert result.exit_code == 0
    assert result.output.startswith("flasker 0.")


# -- bad configuration --------------------------------------------------------------------------
def test_bad_config_is_a_clear_error_without_traceback(tmp_path) -> None:
    cfg = write_project(
        tmp_path, "[PROJECT]\nNAME = x\nMODUELS = app\n\n[CELERY]\nBROKER_URLL = x\n"
    )
    result = invoke(cfg, "routes")
    assert result.exit_code == 1
    assert f"{cfg}:3: [PROJECT] MODUELS: unknown key; did you mean MODULES?" in result.output
    assert f"{cfg}:6: [CELERY] BROKER_URLL: unknown Celery setting; did you mean" in result.output
    assert "Traceback" not in result.output


def test_missing_config_file_says_where_it_looked(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(tmp_path / "nope.cfg", "routes")
    assert result.exit_code == 2
    assert "nope.cfg" in result.output
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_missing_module_names_module_and_line(tmp_path) -> None:
    cfg = write_project(tmp_path, "[PROJECT]\nMODULES = nowhere_to_be_found\n")
    result = invoke(cfg, "routes")
    assert result.exit_code == 1
    assert f"{cfg}:2: [PROJECT] MODULES: module 'nowhere_to_be_found' not found" in result.output
    assert "Traceback" not in result.output


def test_error_in_a_module_shows_the_cause(tmp_path) -> None:
    module = unique("broken")
    cfg = write_project(
        tmp_path, f"[PROJECT]\nMODULES = {module}\n", {module: "def f():\n    return 1 / 0\nf()\n"}
    )
    result = invoke(cfg, "tasks")
    assert result.exit_code == 1
    assert f"importing {module} (listed in [PROJECT] MODULES) failed: ZeroDivisionError" in (
        result.output
    )
    # the user's own code failed: its traceback is the useful part
    assert f'{module}.py", line 2, in f' in result.output


# -- routes, tasks ------------------------------------------------------------------------------
def test_routes_table_and_json(tmp_path) -> None:
    cfg = _project(tmp_path)
    table = invoke(cfg, "routes")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["endpoint", "methods", "rule"]
    assert any(line.split() == ["add_house", "POST", "/houses"] for line in lines)

    result = invoke(cfg, "routes", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    by_endpoint = {row["endpoint"]: row for row in rows}
    assert by_endpoint["list_houses"]["methods"] == ["GET"]
    assert by_endpoint["add_house"]["rule"] == "/houses"
    assert "static" in by_endpoint


def test_tasks_table_and_json(tmp_path) -> None:
    cfg = _project(tmp_path)
    result = invoke(cfg, "tasks", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert set(rows) == {"add_house", "count_houses"}
    assert rows["add_house"]["signature"] == "(address, fail=False)"
    table = invoke(cfg, "tasks")
    assert table.exit_code == 0
    assert any(line.split()[:2] == ["add_house", "(address,"] for line in table.output.splitlines())


def test_routes_and_tasks_do_not_need_the_database(tmp_path) -> None:
    # the console lists a project's endpoints and tasks even while its database is down
    cfg = _project(tmp_path, f"DB_URL = {CLOSED_POSTGRES}")
    for command in ("routes", "tasks"):
        result = invoke(cfg, command, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)


# -- config show --------------------------------------------------------------------------------
SECRET_SECTIONS = """
[APP]
SECRET_KEY = topsecret
GREETING = hello

[CELERY]
broker_url = redis://:redispw@127.0.0.1:6379/3
"""


def test_config_show_masks_secrets(tmp_path) -> None:
    cfg = _project(tmp_path, f"DB_URL = {CLOSED_POSTGRES}", SECRET_SECTIONS)
    result = invoke(cfg, "config", "show")
    assert result.exit_code == 0, result.output  # no database needed to show the config
    output = result.output
    assert output.startswith(f"# {cfg}")
    assert "[CELERY]" in output
    assert "GREETING = 'hello'" in output
    for secret in ("topsecret", "hunter2", "redispw"):
        assert secret not in output
    assert "alice:********@127.0.0.1:1" in output


def test_config_show_json_and_secrets(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CLI_TEST_PASSWORD", "fromenv")
    cfg = _project(
        tmp_path,
        "DB_URL = postgresql+psycopg://bob:${CLI_TEST_PASSWORD}@127.0.0.1:1/x",
        SECRET_SECTIONS + "CELERYD_CONCURRENCY = 3\n",
    )
    masked = json.loads(invoke(cfg, "config", "show", "--json").output)
    assert masked["path"] == str(cfg)
    sections = masked["sections"]
    assert sections["PROJECT"]["NAME"] == "cli-test"
    assert sections["PROJECT"]["AUTOCOMMIT"] is True  # defaults shown
    assert sections["CELERY"]["worker_concurrency"] == 3  # Celery 5's name
    assert "fromenv" not in json.dumps(masked)
    shown = json.loads(invoke(cfg, "config", "show", "--json", "--secrets").output)["sections"]
    assert shown["APP"]["SECRET_KEY"] == "topsecret"
    assert shown["PROJECT"]["DB_URL"] == "postgresql+psycopg://bob:fromenv@127.0.0.1:1/x"
    assert shown["CELERY"]["broker_url"] == "redis://:redispw@127.0.0.1:6379/3"


# -- check --------------------------------------------------------------------------------------
def _check_lines(output: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in output.splitlines() if line.strip()}


def test_check_passes_on_the_embedded_default(tmp_path) -> None:
    result = invoke(_project(tmp_path), "check")
    assert result.exit_code == 0, result.output
    assert _check_lines(result.output) == {
        "config": "OK",
        "modules": "OK",
        "database": "OK",
        "broker": "OK",
    }


def test_check_fails_when_the_database_is_unreachable(tmp_path) -> None:
    result = invoke(_project(tmp_path, f"DB_URL = {CLOSED_POSTGRES}"), "check", "--timeout", "3")
    assert result.exit_code == 1
    lines = _check_lines(result.output)
    assert lines["config"] == "OK"
    assert lines["database"] == "FAIL"
    assert lines["broker"] == "OK"
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_check_reports_a_bad_config_and_stops(tmp_path) -> None:
    cfg = write_project(tmp_path, "[PROJECT]\nNAMEE = x\n")
    result = invoke(cfg, "check")
    assert result.exit_code == 1
    assert _check_lines(result.output) == {"config": "FAIL"}
    assert "did you mean NAME?" in result.output


def test_check_reports_a_missing_module(tmp_path) -> None:
    cfg = write_project(tmp_path, "[PROJECT]\nMODULES = not_there_at_all\n")
    result = invoke(cfg, "check")
    assert result.exit_code == 1
    lines = _check_lines(result.output)
    assert lines["config"] == "OK"
    assert lines["modules"] == "FAIL"
    assert "not_there_at_all" in result.output


@pytest.mark.redis
@pytest.mark.postgres
def test_check_on_redis_and_postgresql(tmp_path, redis_url, postgres_url) -> None:
    cfg = _project(tmp_path, f"DB_URL = {postgres_url}", f"[CELERY]\nbroker_url = {redis_url}\n")
    result = invoke(cfg, "check")
    assert result.exit_code == 0, result.output
    assert set(_check_lines(result.output).values()) == {"OK"}


def test_check_fails_on_a_closed_broker_port(tmp_path) -> None:
    cfg = _project(tmp_path, "", "[CELERY]\nbroker_url = redis://127.0.0.1:1/0\n")
    result = invoke(cfg, "check", "--timeout", "2")
    assert result.exit_code == 1
    assert _check_lines(result.output)["broker"] == "FAIL"


# -- db (the migration flow is in test_migrations.py) -------------------------------------------
def test_db_commands_on_a_database_that_does_not_answer(tmp_path) -> None:
    cfg = _project(tmp_path, f"DB_URL = {CLOSED_POSTGRES}")
    result = invoke(cfg, "db", "create")
    assert result.exit_code == 1
    assert "DB_URL: the database does not answer" in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_shell_has_the_project_and_its_models_in_its_namespace(tmp_path: Path) -> None:
    """Without IPython the plain console reads stdin, so a piped session drives it."""
    import subprocess
    import sys

    module = unique("shellmod")
    cfg = write_project(tmp_path, f"[PROJECT]\nMODULES = {module}\n", {module: models_source()})
    script = (
        "names = dir()\n"
        "print(sorted(set(names) & {'project', 'app', 'db', 'session', 'celery', 'House'}))\n"
        "print(House.__tablename__, app.name == project.app.name)\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "flasker", "-c", str(cfg), "shell"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "['House', 'app', 'celery', 'db', 'project', 'session']" in output
    assert "houses True" in output
