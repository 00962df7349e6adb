"""A fresh machine has Python and uv, nothing else: the README's quickstart from a clean clone.

Why: the packages' wheels carry front-end files from the npm registry (Bootstrap, Swagger UI,
htmx), fetched by their build hook (packages/flasker-vendor-build). The hook once ran `npm pack`,
so `uv run flasker server` failed wherever Node.js was missing; this test keeps it from coming
back. It clones HEAD, runs `uv sync` and `uv run flasker server` with a PATH holding only uv,
git and python, and checks that the example's pages load their vendored files.

It needs the network to the npm registry (and PyPI, or uv's cache): CI has it; elsewhere the test
is skipped when the registry does not answer, and under CI=true that is a failure instead.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from flasker.testing import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY") or "https://registry.npmjs.org/"
#: The files each build fetches, as the clone's paths; all three packages' hooks must have run.
VENDORED = (
    "packages/flasker-core/src/flasker/static/vendor/bootstrap.min.css",
    "packages/flasker-core/src/flasker/static/vendor/bootstrap.bundle.min.js",
    "packages/flasker-api/src/flasker_api/static/vendor/swagger-ui-bundle.js",
    "packages/flasker-api/src/flasker_api/static/vendor/swagger-ui.css",
    "packages/flasker-console/src/flasker_console/static/vendor/htmx.min.js",
)
#: Page → a vendored file it loads (the URL is read from the page, as a browser does).
PAGES = {
    "/": "bootstrap.min.css",
    "/console/": "htmx.min.js",
    "/api/docs": "swagger-ui-bundle.js",
}
#: Variables that would point uv or flasker at the developer's checkout instead of the clone.
LEAKY = ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "UV_PROJECT", "PYTHONPATH", "FLASKER_CONFIG")
DEV_LINK = re.compile(r"flasker: sign in at (http://\S+/auth/dev/[A-Za-z0-9_\-]+)")


def _registry_answers() -> bool:
    try:
        urllib.request.urlopen(REGISTRY, timeout=10).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


@pytest.fixture(scope="module")
def online() -> None:
    if not _registry_answers():
        message = f"the npm registry {REGISTRY} does not answer (this test downloads from it)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def _bare_bin(folder: Path) -> Path:
    """A folder of symlinks to uv, git and python alone: the PATH of a fresh machine."""
    folder.mkdir()
    # `uv run` names its own binary in $UV; a pyenv shim on PATH would need pyenv itself.
    uv = os.environ.get("UV") or shutil.which("uv")
    git = shutil.which("git")
    python = Path(sys.base_prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    if not python.exists():
        python = Path(os.path.realpath(sys.executable))
    assert uv, "uv must be installed to run this test"
    assert git, "git must be installed to run this test"
    for name, target in {"uv": uv, "git": git, "python3": python, "python": python}.items():
        (folder / name).symlink_to(os.path.realpath(target))
    return folder


def _environment(bin_folder: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKY}
    env["PATH"] = str(bin_folder)
    env["PYTHONUNBUFFERED"] = "1"
    for tool in ("node", "npm", "npx"):
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is on the bare PATH"
    return env


def _run(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{output}"
    return output


@contextmanager
def _server(clone: Path, env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """`uv run flasker server -p PORT` in the clone; yields its URL once it answers."""
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["uv", "run", "flasker", "server", "-p", str(port)],
            cwd=clone,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # uv, flasker and the embedded worker in one group
        )
    try:
        deadline = time.monotonic() + 90
        while not _answers(url):
            text = log.read_text(errors="replace")
            assert process.poll() is None, f"flasker server exited early:\n{text}"
            assert time.monotonic() < deadline, f"flasker server did not answer:\n{text}"
            time.sleep(0.2)
        yield url
    finally:
        _stop(process)


def _answers(url: str) -> bool:
    try:
        _local().open(url + "/", timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group, as Ctrl+C in a terminal would; SIGKILL if it lingers."""
    for sig, grace in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            continue
        # uv has exited; its children may still be finishing.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def _local(jar: http.cookiejar.CookieJar | None = None) -> urllib.request.OpenerDirector:
    """An opener for the local server: no proxy (HTTPS_PROXY is for the registry), cookies."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]
    if jar is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(jar))
    return urllib.request.build_opener(*handlers)


def test_quickstart_from_a_clean_clone_without_node(online: None, tmp_path: Path) -> None:
    clone = tmp_path / "flasker"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    env = _environment(_bare_bin(tmp_path / "bin"))

    # uv's cache is the developer's (or CI's), so Python packages are not downloaded again;
    # the npm tarballs are, since the clone has no vendored files.
    assert not any((clone / path).exists() for path in VENDORED)
    _run(["uv", "sync"], clone, env, timeout=300)
    missing = [path for path in VENDORED if not (clone / path).is_file()]
    assert not missing, f"uv sync left these out: {missing}"

    log = tmp_path / "server.log"
    with _server(clone, env, free_port(), log) as url:
        links = DEV_LINK.findall(log.read_text(errors="replace"))
        assert links, f"flasker server printed no sign-in link:\n{log.read_text()}"
        jar = http.cookiejar.CookieJar()
        browser = _local(jar)
        with browser.open(links[0], timeout=10) as response:
            assert response.url == url + "/", response.url
        for page, asset in PAGES.items():
            with browser.open(url + page, timeout=10) as response:
                html = response.read().decode()
            found = re.search(rf"""(?:src|href)="([^"]*{re.escape(asset)}[^"]*)\"""", html)
            assert found, f"{page} does not load {asset}:\n{html[:2000]}"
            asset_url = urllib.request.urljoin(url + page, found.group(1).replace("&amp;", "&"))
            with browser.open(asset_url, timeout=10) as response:
                assert response.status == 200
                assert len(response.read()) > 10_000, f"{asset_url} is nearly empty"
