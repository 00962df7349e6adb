"""End-to-end fixtures: Debian's Chromium driven by Playwright, against real flasker processes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flasker.testing import LiveServer, ServerFailed

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def example_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The bundled example, copied so the run leaves the repository untouched."""
    folder = tmp_path / "houses"
    shutil.copytree(
        ROOT / "examples" / "houses",
        folder,
        ignore=shutil.ignore_patterns("db.sqlite*", ".flasker", "__pycache__", "*.log"),
    )
    try:
        server = LiveServer(folder / "default.cfg").start()
    except ServerFailed as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()
