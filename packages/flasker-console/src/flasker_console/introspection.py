"""What a project contains, asked of a subprocess: the standalone console never imports a
project's code, so two projects never share `sys.modules` and a project that fails to import
cannot take the console down.

- Tasks: `flasker -c CFG tasks --json` (core's command).
- Endpoints: `python -m flasker_console.introspection CFG` prints what the endpoints page lists
  (routes with their access, the API's operations from its OpenAPI document). Core's
  `flasker routes --json` has the routes only; the access column and the OpenAPI operations
  need the project's managers, so this small entry point runs the page's own listing
  (endpoint_listing.py) in the subprocess.

Answers are kept while the project's files stay the same (the cfg and every `*.py` under its
folder, by modification time and size), so a page visited again costs a few `stat` calls, not
a subprocess that imports the whole project; an edit anywhere starts a fresh one.

Each call has a deadline; a failure raises `IntrospectionError` naming the cfg and the last line
the subprocess wrote to stderr::

    tasks_of(Path("projects/blog/default.cfg"))   # [{"name": "blog.tasks.add", ...}]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .exceptions import ConsoleError

#: Seconds a subprocess may take (importing a project's modules can be slow).
TIMEOUT = 30.0
#: Source files looked at for the fingerprint at most (a huge folder is not walked whole).
MAX_FILES = 5000

_answers: dict[tuple[str, ...], tuple[tuple[int, int, int], Any]] = {}
_answers_lock = threading.Lock()


def fingerprint(cfg: Path) -> tuple[int, int, int]:
    """What changes when the project's answer may: the cfg's mtime and size, the newest mtime
    and the number of the `*.py` files under its folder (hidden folders and caches skipped)."""
    stat = cfg.stat()
    newest, count = 0, 0
    for folder, folders, files in os.walk(cfg.parent):
        folders[:] = [f for f in folders if not f.startswith(".") and f != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                count += 1
                try:
                    newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
                except OSError:
                    continue
        if count >= MAX_FILES:
            break
    return (stat.st_mtime_ns, stat.st_size, newest ^ count)


def _cached_run(command: list[str], cfg: Path, what: str, timeout: float) -> Any:
    key = tuple(command)
    try:
        mark = fingerprint(cfg)
    except OSError as error:
        raise IntrospectionError(f"cannot read {cfg}: {error.strerror or error}") from None
    with _answers_lock:
        found = _answers.get(key)
    if found is not None and found[0] == mark:
        return found[1]
    answer = _run(command, cfg, what, timeout)
    with _answers_lock:
        _answers[key] = (mark, answer)
    return answer


class IntrospectionError(ConsoleError):
    """A project's subprocess failed, timed out or printed something that is not JSON."""

    status = 503


def _run(command: list[str], cfg: Path, what: str, timeout: float) -> Any:
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(cfg.parent),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise IntrospectionError(
            f"listing the {what} of {cfg} took more than {timeout:g} s (the subprocess was stopped)"
        ) from None
    except OSError as error:
        raise IntrospectionError(f"cannot list the {what} of {cfg}: {error}") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit status {done.returncode}"
        raise IntrospectionError(f"listing the {what} of {cfg} failed: {last}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise IntrospectionError(
            f"listing the {what} of {cfg} printed something that is not JSON"
        ) from None


def tasks_of(cfg: Path, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    """The project's registered tasks, as core's `introspect.tasks` lists them."""
    command = [sys.executable, "-m", "flasker", "-c", str(cfg), "tasks", "--json"]
    return list(_cached_run(command, cfg, "tasks", timeout))


def registered_tasks(project: Any) -> list[dict[str, Any]]:
    """The project's registered tasks: asked in-process when this process started the project
    (mounted), else of a subprocess (`tasks_of`), since the console never imports a project it
    did not start."""
    if project.is_started:
        from flasker import introspect

        return introspect.tasks(project)
    return tasks_of(project.config.path)


def endpoints_of(cfg: Path, timeout: float = TIMEOUT) -> dict[str, Any]:
    """`{"routes": [...], "operations": [...], "api_problem": str | None}` for the page."""
    command = [sys.executable, "-m", "flasker_console.introspection", str(cfg)]
    return dict(_cached_run(command, cfg, "endpoints", timeout))


def _print_endpoints(cfg: str) -> None:
    """The subprocess side of `endpoints_of` (no database, no console mounted)."""
    from dataclasses import asdict

    from flasker.project import Project

    from .endpoint_listing import local_listing

    project = Project(cfg).start(prepare_schema=False)
    with project.app.test_request_context("/"):
        print(json.dumps(asdict(local_listing(project)), default=str))


if __name__ == "__main__":  # pragma: no cover - run in the subprocess
    from flasker.exceptions import FlaskerError

    if len(sys.argv) != 2:
        sys.exit("usage: python -m flasker_console.introspection CFG")
    try:
        _print_endpoints(sys.argv[1])
    except FlaskerError as error:
        sys.exit(str(error).replace("\n", " "))
