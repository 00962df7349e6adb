"""npm.py against a registry served from this process: what a build would fetch, or refuse."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flasker_vendor_build.npm import DownloadError, NpmTarball, VendorError


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


TARBALL = _tarball({"package/dist/lib.min.js": b"lib();", "package/LICENSE": b"MIT"})


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Serves TARBALL as lib@1.0.0 and @scope/lib@1.0.0; NPM_CONFIG_REGISTRY names it."""
    served = {"/lib/-/lib-1.0.0.tgz": TARBALL, "/@scope/lib/-/lib-1.0.0.tgz": TARBALL}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = served.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv("NPM_CONFIG_REGISTRY", url)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    yield url
    server.shutdown()
    server.server_close()


def test_public_registry_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NPM_CONFIG_REGISTRY", raising=False)
    assert NpmTarball("htmx.org", "2.0.11", "").url == (
        "https://registry.npmjs.org/htmx.org/-/htmx.org-2.0.11.tgz"
    )
    assert NpmTarball("@types/node", "1.0.0", "").url == (
        "https://registry.npmjs.org/@types/node/-/node-1.0.0.tgz"
    )


@pytest.mark.parametrize("name", ["lib", "@scope/lib"])
def test_vendor_writes_the_listed_files(registry: str, tmp_path: Path, name: str) -> None:
    files = {"package/dist/lib.min.js": "lib.min.js", "package/LICENSE": "lib.LICENSE"}
    NpmTarball(name, "1.0.0", _integrity(TARBALL)).vendor(files, tmp_path / "vendor")
    assert (tmp_path / "vendor" / "lib.min.js").read_bytes() == b"lib();"
    assert (tmp_path / "vendor" / "lib.LICENSE").read_bytes() == b"MIT"
    assert sorted(p.name for p in (tmp_path / "vendor").iterdir()) == ["lib.LICENSE", "lib.min.js"]


def test_a_tarball_that_does_not_match_its_pin_is_refused(registry: str, tmp_path: Path) -> None:
    pin = _integrity(b"what was published")
    with pytest.raises(VendorError, match="does not match the pinned integrity hash"):
        NpmTarball("lib", "1.0.0", pin).vendor({"package/LICENSE": "x"}, tmp_path / "vendor")
    assert not (tmp_path / "vendor").exists()


def test_a_missing_member_is_named(registry: str, tmp_path: Path) -> None:
    with pytest.raises(VendorError, match=r"package/nope\.js is not a file in the tarball of lib"):
        NpmTarball("lib", "1.0.0", _integrity(TARBALL)).vendor({"package/nope.js": "x"}, tmp_path)


def test_an_unknown_version_names_the_url(registry: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=rf"{registry}lib/-/lib-9.0.0.tgz answered HTTP 404"):
        NpmTarball("lib", "9.0.0", _integrity(TARBALL)).vendor({"package/LICENSE": "x"}, tmp_path)


def test_a_silent_registry_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        monkeypatch.setenv("NPM_CONFIG_REGISTRY", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.delenv("HTTP_PROXY", raising=False)
        monkeypatch.delenv("http_proxy", raising=False)
        with pytest.raises(DownloadError, match=r"lib-1.0.0.tgz: no answer within 0.5 s"):
            NpmTarball("lib", "1.0.0", _integrity(TARBALL)).download(timeout=0.5)
