"""`flasker console --root DIR`: one process, the Projects page at `/`, each project's console
at `/p/<folder>/`, and no project code ever imported in the console's process."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from werkzeug.test import Client

from flasker.cli import cli
from flasker.testing import restored_process_state
from flasker_console.standalone import StandaloneConsole

SHOP_CFG = """\
[PROJECT]
NAME = Shop
MODULES = {module}
"""

SHOP_MODULE = """\
from flasker import current_project

app = current_project.app
celery = current_project.celery


@app.get("/hello")
def hello():
    return "hi"


@celery.task(name="shop.add")
def add(x: int, y: int = 2) -> int:
    \"\"\"Add two numbers.\"\"\"
    return x + y
"""


@pytest.fixture(scope="module")
def module() -> str:
    return f"shop_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, module: str) -> Path:
    root = tmp_path_factory.mktemp("standalone_root")
    (root / "shop").mkdir()
    (root / "shop" / "default.cfg").write_text(SHOP_CFG.format(module=module))
    (root / "shop" / f"{module}.py").write_text(SHOP_MODULE)
    (root / "broken").mkdir()
    (root / "broken" / "default.cfg").write_text("[PROJECT]\nNAME = Broken\n[APP]\nDEBUG = maybe\n")
    (root / "crashy").mkdir()
    (root / "crashy" / "default.cfg").write_text("[PROJECT]\nNAME = Crashy\nMODULES = crashy_mod\n")
    (root / "crashy" / "crashy_mod.py").write_text("raise RuntimeError('crashy cannot start')\n")
    return root


@pytest.fixture(scope="module")
def console(root: Path) -> Iterator[StandaloneConsole]:
    """The standalone console; the tables it maps on core's `Model` are forgotten after."""
    with restored_process_state():
        app = StandaloneConsole(root, check_timeout=1.0)
        yield app
        app.close()


@pytest.fixture
def client(console: StandaloneConsole) -> Client:
    return Client(console)


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_root_lists_the_projects_with_links_to_their_consoles(client: Client) -> None:
    response = client.get("/")
    html = text(response)
    assert response.status_code == 200
    for slug in ("shop", "broken", "crashy"):
        assert f'href="/p/{slug}/"' in html
    assert 'data-testid="new-project"' in html
    assert "/health?project=shop" in html


def test_a_projects_console_never_imports_its_modules(client: Client, module: str) -> None:
    response = client.get("/p/shop/")
    assert response.status_code == 200
    assert "Shop" in text(response)
    assert 'href="/p/shop/config"' in text(response)
    html = text(client.get("/p/shop/tasks"))
    assert "shop.add" in html
    assert "Add two numbers." in html
    html = text(client.get("/p/shop/endpoints"))
    assert "/hello" in html
    assert module not in sys.modules


def test_subprocess_answers_are_kept_until_the_project_changes(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess

    from flasker_console import introspection

    runs: list[list[str]] = []
    real = subprocess.run

    def counted(command: list[str], **options: object) -> object:
        runs.append(command)
        return real(command, **options)

    monkeypatch.setattr(introspection.subprocess, "run", counted)
    cfg = root / "shop" / "default.cfg"
    first = introspection.tasks_of(cfg)
    assert introspection.tasks_of(cfg) == first
    assert len(runs) <= 1  # the page visited earlier may already have asked
    asked = len(runs)
    source = next((root / "shop").glob("shop_*.py"))
    later = source.stat().st_mtime_ns + 5_000_000_000
    os.utime(source, ns=(later, later))  # an edited module: asked again
    assert [t["name"] for t in introspection.tasks_of(cfg)] == [t["name"] for t in first]
    assert len(runs) == asked + 1


def test_sending_a_task_by_name_from_the_standalone_console(client: Client, module: str) -> None:
    page = text(client.get("/p/shop/tasks"))
    form = {"csrf_token": token(page), "task": "shop.add", "arg:x": "1", "arg:y": "5"}
    response = client.post("/p/shop/tasks", data=form)
    assert response.status_code == 303, text(response)
    location = response.headers["Location"]
    task_id = location.split("sent=", 1)[1]
    listing = text(client.get(location))
    assert task_id in listing  # stored and listed: the broker took it by name
    assert module not in sys.modules


def test_unknown_task_names_are_refused(client: Client) -> None:
    page = text(client.get("/p/shop/tasks"))
    response = client.post("/p/shop/tasks", data={"csrf_token": token(page), "task": "os.system"})
    assert response.status_code == 422
    assert "no task named &#39;os.system&#39;" in text(response)


def test_a_project_that_fails_to_import_says_why(client: Client) -> None:
    response = client.get("/p/crashy/tasks")
    html = text(response)
    assert response.status_code == 503
    assert "crashy/default.cfg" in html
    assert "crashy cannot start" in html
    assert client.get("/p/crashy/").status_code == 200  # the overview still answers


def test_try_it_says_it_needs_the_mounted_console(client: Client) -> None:
    page = text(client.get("/p/shop/endpoints"))
    response = client.post(
        "/p/shop/endpoints/try", data={"csrf_token": token(page), "path": "/hello"}
    )
    assert response.status_code == 400
    assert "console mounted in the project" in text(response)


def test_an_invalid_cfg_gets_an_overview_and_a_raw_editor(client: Client, root: Path) -> None:
    overview = client.get("/p/broken/")
    assert overview.status_code == 200
    # the overview checks the file as a start would: the bad value is named, with its line
    assert "expected a boolean" in text(overview)
    assert "default.cfg:4" in text(overview)
    assert 'data-testid="restart-needed"' not in text(overview)
    html = text(client.get("/p/broken/config"))
    assert "DEBUG" in html
    assert "maybe" in html
    raw = client.get("/p/broken/config/raw")
    assert raw.status_code == 200
    assert "DEBUG = maybe" in text(raw)


def test_a_fixed_cfg_is_picked_up_on_the_next_request(client: Client, tmp_path: Path) -> None:
    console = StandaloneConsole(tmp_path)
    try:
        (tmp_path / "later").mkdir()
        cfg = tmp_path / "later" / "default.cfg"
        cfg.write_text("[PROJECT]\nNAME = Later\n[APP]\nDEBUG = maybe\n")
        client = Client(console)
        assert "Flasker console · later" in text(client.get("/p/later/"))  # the stand-in
        cfg.write_text("[PROJECT]\nNAME = Fixed Later\n")
        assert "Fixed Later" in text(client.get("/p/later/"))
    finally:
        console.close()


def test_unknown_projects_and_bare_project_paths(client: Client) -> None:
    assert client.get("/p/nothing/").status_code == 404
    assert client.get("/p/../etc/").status_code == 404
    response = client.get("/p/shop")
    assert response.status_code == 308
    assert response.headers["Location"] == "/p/shop/"


def test_scaffolding_from_the_root_page(client: Client, root: Path) -> None:
    page = text(client.get("/"))
    form = {"csrf_token": token(page), "folder": "fresh", "template": "minimal", "name": ""}
    response = client.post("/", data=form)
    html = text(response)
    assert response.status_code == 200
    assert "<code>fresh/default.cfg</code>" in html
    assert 'href="/p/fresh/"' in html
    assert client.get("/p/fresh/").status_code == 200


def test_requests_for_other_host_names_are_refused(client: Client) -> None:
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 reaches this port from the
    # operator's browser, with its own origin; without a Host check it could read the CSRF
    # token and change any project
    response = client.get("/", headers={"Host": "evil.example:5050"})
    assert response.status_code == 400
    assert "answers only to 127.0.0.1" in text(response)
    assert client.get("/p/shop/", headers={"Host": "evil.example"}).status_code == 400
    # any loopback address is answered (the CLI lets it listen on 127.0.0.2), look-alikes not
    for host in ("127.0.0.1:5050", "localhost:5050", "[::1]:5050", "127.0.0.2:5050"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host
    for host in ("localhost.evil.example", "127.0.0.1.evil.example", "[::2]:5050"):
        assert client.get("/", headers={"Host": host}).status_code == 400, host


def test_the_root_project_and_odd_folder_names_have_working_links(tmp_path: Path) -> None:
    (tmp_path / "default.cfg").write_text("[PROJECT]\nNAME = Top\n")
    (tmp_path / "we ird#x").mkdir()
    (tmp_path / "we ird#x" / "default.cfg").write_text("[PROJECT]\nNAME = Weird\n")
    with restored_process_state():
        app = StandaloneConsole(tmp_path, check_timeout=1.0)
        try:
            client = Client(app)
            html = text(client.get("/"))
            assert 'href="/p/.root/"' in html
            assert 'href="/p/we%20ird%23x/"' in html
            assert "Top" in text(client.get("/p/.root/"))
            assert "Weird" in text(client.get("/p/we%20ird%23x/"))
        finally:
            app.close()


def test_a_rebuilt_projects_events_listener_is_stopped(root: Path) -> None:
    import threading

    def listeners() -> int:
        return sum(t.name.startswith("flasker-console-events") for t in threading.enumerate())

    before = listeners()
    with restored_process_state():
        app = StandaloneConsole(root, check_timeout=1.0)
        client = Client(app)
        cfg = root / "shop" / "default.cfg"
        original = cfg.read_text()
        try:
            for number in range(3):
                assert client.get("/p/shop/").status_code == 200
                cfg.write_text(original + f"# edit {number}\n")  # the next request rebuilds
            assert client.get("/p/shop/").status_code == 200
            assert listeners() <= before + 1
        finally:
            cfg.write_text(original)
            app.close()
    assert listeners() == before


def test_cli_refuses_a_non_loopback_host_with_root(root: Path) -> None:
    result = CliRunner().invoke(cli, ["console", "--root", str(root), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "loopback" in result.output


def test_cli_refuses_a_missing_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["console", "--root", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
