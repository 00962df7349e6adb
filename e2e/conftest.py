"""End-to-end fixtures: Debian's Chromium driven by Playwright, against real flasker processes."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

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


#: The line `flasker server` prints for the one-time development sign-in link.
DEV_LINK = re.compile(r"flasker: sign in at (http://\S+/auth/dev/[A-Za-z0-9_\-]+)")


def printed_links(server: LiveServer) -> list[str]:
    """Every sign-in link the server printed so far, oldest first."""
    return DEV_LINK.findall(server.output())


@pytest.fixture
def dev_links() -> Callable[[LiveServer], list[str]]:
    """`dev_links(server)`: the sign-in links `flasker server` printed so far, oldest first."""
    return printed_links


def copy_example(folder: Path, settings: dict[str, dict[str, str]] | None = None) -> Path:
    """The bundled example copied into `folder` (so a run leaves the repository untouched),
    with `settings` (section → key → value) written at the top of their sections; return its
    cfg."""
    shutil.copytree(
        ROOT / "examples" / "houses",
        folder,
        ignore=shutil.ignore_patterns("db.sqlite*", ".flasker", "__pycache__", "*.log"),
    )
    cfg = folder / "default.cfg"
    lines = cfg.read_text(encoding="utf-8").splitlines()
    for section, values in (settings or {}).items():
        header = lines.index(f"[{section}]")
        lines[header + 1 : header + 1] = [f"{key} = {value}" for key, value in values.items()]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


@pytest.fixture
def example_copy() -> Callable[..., Path]:
    """`example_copy(folder, {"CELERY": {"broker_url": url}})`: `copy_example`."""
    return copy_example


@pytest.fixture
def anonymous_example_server(tmp_path: Path) -> Iterator[LiveServer]:
    """The bundled example, copied so the run leaves the repository untouched; nobody is
    signed in (the example asks for sign-in: houses/auth.py)."""
    cfg = copy_example(tmp_path / "houses")
    try:
        server = LiveServer(cfg).start()
    except ServerFailed as error:
        pytest.fail(str(error), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def example_server(anonymous_example_server: LiveServer, page: Page) -> LiveServer:
    """The example with the Playwright `page` signed in, as a newcomer does: through the
    one-time link `flasker server` printed at start."""
    server = anonymous_example_server
    links = printed_links(server)
    assert links, f"flasker server printed no sign-in link:\n{server.output()}"
    page.goto(links[0])
    assert page.url == server.url + "/", page.url
    return server
