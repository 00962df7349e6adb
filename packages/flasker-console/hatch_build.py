"""Hatch build hook: fetch htmx into `src/flasker_console/static/vendor/`.

Why a build hook: third-party files are never committed, and no PyPI package ships htmx for
Flask, yet the wheel (and the editable install `uv sync` makes) must contain it so the console
works offline, without a CDN. The hook runs `npm pack` for one pinned version of htmx.org,
checks the tarball against a pinned integrity hash, and extracts the minified script the console
serves (plus the licence that must travel with it). It does nothing when every file is already
present, so only the first build (or a build after deleting them) needs npm and the network.

The files are listed in `artifacts` (they are git-ignored but enter the wheel and sdist), and
their folder in `[tool.uv] cache-keys`, so `uv sync` rebuilds the editable install (running this
hook again) once the folder is deleted.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The npm package and exact version; bump both lines together.
PACKAGE = "htmx.org@2.0.11"
#: htmx 2.0.x, not npm's current 4.x: htmx 4 renames request headers flask-htmx 0.4 reads
#: (HX-Trigger, HX-Trigger-Name, HX-Prompt) and changes attribute inheritance.
#: Subresource-integrity hash of the tarball npm publishes for PACKAGE (`npm view PACKAGE
#: dist.integrity`).
INTEGRITY = (
    "sha512-"
    "Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
)
#: Tarball member → file name in the vendor folder.
FILES = {
    "package/dist/htmx.min.js": "htmx.min.js",
    "package/LICENSE": "htmx.LICENSE",
}
VENDOR = Path("src", "flasker_console", "static", "vendor")


class BuildError(RuntimeError):
    """The vendored assets are missing and cannot be fetched; the message says how to fix it."""


class VendorAssetsHook(BuildHookInterface):
    """Make sure the htmx files exist before hatchling collects the package's files."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        vendor = Path(self.root) / VENDOR
        missing = [name for name in FILES.values() if not (vendor / name).is_file()]
        if missing:
            fetch(vendor)


def fetch(vendor: Path) -> None:
    """Download PACKAGE with npm, verify it, and write FILES into `vendor`."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError(
            f"flasker-console needs {', '.join(FILES.values())} from the npm package {PACKAGE} "
            f"in {vendor}, and npm is not installed: install Node.js/npm (e.g. "
            "'apt-get install npm') and build again"
        )
    with tempfile.TemporaryDirectory(prefix="flasker-console-vendor-") as temp:
        result = subprocess.run(
            [npm, "pack", PACKAGE, "--silent"],
            cwd=temp,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BuildError(
                f"'npm pack {PACKAGE}' failed (exit {result.returncode}): "
                f"{result.stderr.strip() or result.stdout.strip()}"
            )
        tarballs = list(Path(temp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise BuildError(f"'npm pack {PACKAGE}' produced {len(tarballs)} tarballs, not 1")
        tarball = tarballs[0]
        _verify(tarball)
        contents = _extract(tarball)
    vendor.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        target = vendor / name
        partial = target.with_name(f".{name}.part")
        partial.write_bytes(data)
        partial.replace(target)


def _verify(tarball: Path) -> None:
    algorithm, _, expected = INTEGRITY.partition("-")
    digest = hashlib.new(algorithm, tarball.read_bytes()).digest()
    if base64.b64encode(digest).decode() != expected:
        raise BuildError(
            f"the tarball of {PACKAGE} does not match its pinned integrity hash; "
            "refusing to vendor it (update INTEGRITY in hatch_build.py only after checking why)"
        )


def _extract(tarball: Path) -> dict[str, bytes]:
    contents: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member, name in FILES.items():
            try:
                handle = archive.extractfile(member)
            except KeyError:
                handle = None
            if handle is None:
                raise BuildError(f"{member} is missing from the tarball of {PACKAGE}")
            contents[name] = handle.read()
    return contents
