"""`flasker --help` must stay a plain click program: no Celery, SQLAlchemy or Flask on the way.

Each case runs `flasker.cli:main` in a fresh interpreter (this test process has imported
everything already) and lists the heavy packages found in `sys.modules` afterwards. A new
top-level import of celery, sqlalchemy or flask anywhere on the CLI's import path fails here.
bench/cli_startup.py measures what this buys against `flask --help`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Top-level packages `flasker --help` must not import (Flask's heavy parts: flask itself, its
#: templating, the servers and monitors the commands start).
HEAVY = (
    "werkzeug",
    "celery",
    "kombu",
    "billiard",
    "sqlalchemy",
    "alembic",
    "flask",
    "flask_caching",
    "jinja2",
    "flower",
    "tornado",
    "gunicorn",
    "IPython",
)

SNIPPET = """
import contextlib, io, json, sys
{prelude}
sys.argv = ["flasker", *{args!r}]
from flasker.cli import main
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit as exit:
        code = exit.code
heavy = sorted(name for name in sys.modules if name.partition(".")[0] in {heavy!r})
print(json.dumps({{"code": code, "output": out.getvalue(), "heavy": heavy}}))
"""


def run_cli(args: list[str], cwd: Path, prelude: str = "") -> dict:
    """Run `flasker ARGS` in a fresh interpreter; its exit code, output and heavy modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK", "PYTHONSTARTUP"))}
    code = SNIPPET.format(prelude=prelude, args=args, heavy=HEAVY)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["-h"],
        ["new", "-h"],
        ["server", "-h"],
        ["worker", "-h"],
        ["flower", "-h"],
        ["shell", "-h"],
        ["db", "-h"],
        ["db", "upgrade", "-h"],
        ["routes", "-h"],
        ["tasks", "-h"],
        ["check", "-h"],
        ["config", "show", "-h"],
        ["--version"],
    ],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    found = run_cli(args, tmp_path)
    assert found["code"] == 0, found["output"]
    assert found["output"].strip(), "the command printed nothing"
    assert found["heavy"] == [], (
        f"'flasker {' '.join(args)}' imported {', '.join(found['heavy'])}: "
        "import them inside the command that needs them"
    )


def test_help_lists_every_command(tmp_path: Path) -> None:
    output = run_cli(["--help"], tmp_path)["output"]
    commands = ("new", "server", "worker", "flower", "shell", "db", "routes", "tasks", "check")
    for command in (*commands, "config"):
        assert f"  {command} " in output, output


def test_a_heavy_import_is_caught(tmp_path: Path) -> None:
    """The check itself works: a heavy package imported on the way is reported."""
    found = run_cli(["--help"], tmp_path, prelude="import sqlalchemy")
    assert "sqlalchemy" in found["heavy"]
