"""What a project contains, asked of a subprocess: the standalone console never imports a
project's code, so two projects never share `sys.modules` and a project that fails to import
cannot take the console down.

- Tasks: `flasker -c CFG tasks --json` (core's command).
- Endpoints: `python -m flasker_console.introspection CFG` prints what the endpoints page lists
  (routes with their access, the API's operations from its OpenAPI document). Core's
  `flasker routes --json` has the routes only; the access column and the OpenAPI operations
  need the project's managers, so this small entry point runs the page's own `listing()` in the
  subprocess.

Each call has a deadline; a failure raises `IntrospectionError` naming the cfg and the last line
the subprocess wrote to stderr::

    tasks_of(Path("projects/blog/default.cfg"))   # [{"name": "blog.tasks.add", ...}]
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .exceptions import ConsoleError

#: Seconds a subprocess may take (importing a project's modules can be slow).
TIMEOUT = 30.0


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
    return list(_run(command, cfg, "tasks", timeout))


def endpoints_of(cfg: Path, timeout: float = TIMEOUT) -> dict[str, Any]:
    """`{"routes": [...], "operations": [...], "api_problem": str | None}` for the page."""
    command = [sys.executable, "-m", "flasker_console.introspection", str(cfg)]
    return dict(_run(command, cfg, "endpoints", timeout))


def _print_endpoints(cfg: str) -> None:
    """The subprocess side of `endpoints_of` (no database, no console mounted)."""
    from dataclasses import asdict

    from flasker.project import Project

    from .endpoints_page import listing

    project = Project(cfg).start(prepare_schema=False)
    with project.app.test_request_context("/"):
        print(json.dumps(asdict(listing(project)), default=str))


if __name__ == "__main__":  # pragma: no cover - run in the subprocess
    from flasker.exceptions import FlaskerError

    if len(sys.argv) != 2:
        sys.exit("usage: python -m flasker_console.introspection CFG")
    try:
        _print_endpoints(sys.argv[1])
    except FlaskerError as error:
        sys.exit(str(error).replace("\n", " "))
