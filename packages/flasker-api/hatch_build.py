"""Hatch build hook: fetch Swagger UI's JS and CSS into `src/flasker_api/static/vendor/`.

Why a build hook: third-party files are never committed, yet the wheel (and the editable install
`uv sync` makes) must contain them so `/api/docs` works offline. The hook runs `npm pack` for one
pinned version of swagger-ui-dist, checks the tarball against a pinned integrity hash, and
extracts the files the docs page serves (plus the licence texts that must travel with them). It
does nothing when every file is already present, so only the first build (or a build after
deleting them) needs npm and the network.

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
PACKAGE = "swagger-ui-dist@5.35.0"
#: Subresource-integrity hash of the tarball npm publishes for PACKAGE (`npm view PACKAGE
#: dist.integrity`).
INTEGRITY = (
    "sha512-"
    "U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="
)
#: Tarball member → file name in the vendor folder.
FILES = {
    "package/swagger-ui-bundle.js": "swagger-ui-bundle.js",
    "package/swagger-ui.css": "swagger-ui.css",
    "package/LICENSE": "swagger-ui.LICENSE",
    "package/NOTICE": "swagger-ui.NOTICE",
}
VENDOR = Path("src", "flasker_api", "static", "vendor")


class BuildError(RuntimeError):
    """The vendored assets are missing and cannot be fetched; the message says how to fix it."""


class VendorAssetsHook(BuildHookInterface):
    """Make sure the Swagger UI files exist before hatchling collects the package's files."""

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
            f"flasker-api needs {', '.join(FILES.values())} from the npm package {PACKAGE} "
            f"in {vendor}, and npm is not installed: install Node.js/npm (e.g. "
            "'apt-get install npm') and build again"
        )
    with tempfile.TemporaryDirectory(prefix="flasker-api-vendor-") as temp:
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
