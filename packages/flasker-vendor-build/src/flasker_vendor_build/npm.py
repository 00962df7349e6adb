"""Fetch files out of a pinned npm tarball with the standard library alone.

Why not `npm pack`: a build that shells out to npm fails on every machine without Node.js, and
the registry's tarball URLs are plain HTTPS, so `urllib` does the same job. The pinned `sha512`
integrity string (the one npm itself checks, `npm view NAME@VERSION dist.integrity`) keeps the
guarantee npm gave: the bytes are the ones published when the pin was written, or nothing is
written. ::

    tarball = NpmTarball("htmx.org", "2.0.11", "sha512-Thx/…")
    tarball.vendor({"package/dist/htmx.min.js": "htmx.min.js"}, Path("static/vendor"))
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The public registry; `NPM_CONFIG_REGISTRY` (npm's own variable) names a mirror instead.
DEFAULT_REGISTRY = "https://registry.npmjs.org/"
#: Seconds without an answer (connecting, or between two reads) before the download gives up.
TIMEOUT = 60.0


class VendorError(RuntimeError):
    """The files cannot be fetched or trusted; the message says what happened and what to do."""


class DownloadError(VendorError):
    """The registry could not be reached or refused the tarball (network, proxy, mirror)."""


def registry_url() -> str:
    """The registry to download from, ending with '/'."""
    registry = os.environ.get("NPM_CONFIG_REGISTRY") or DEFAULT_REGISTRY
    return registry.rstrip("/") + "/"


@dataclass(frozen=True)
class NpmTarball:
    """One published version of an npm package, pinned by its integrity string."""

    name: str
    version: str
    integrity: str

    @property
    def url(self) -> str:
        """Where the registry serves the tarball: `<name>/-/<basename>-<version>.tgz`.

        A scoped package (`@scope/name`) keeps its scope in the path but not in the file name.
        """
        basename = self.name.rpartition("/")[2]
        return f"{registry_url()}{self.name}/-/{basename}-{self.version}.tgz"

    def download(self, timeout: float = TIMEOUT) -> bytes:
        """The tarball's bytes, checked against `integrity`.

        urllib's default opener reads `HTTPS_PROXY`/`NO_PROXY`, so a proxy needs no code here.
        """
        request = urllib.request.Request(self.url, headers={"User-Agent": "flasker-vendor-build"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                data: bytes = response.read()
        except urllib.error.HTTPError as error:
            raise DownloadError(f"{self.url} answered HTTP {error.code} {error.reason}") from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", None) or error
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {timeout:g} s"
            raise DownloadError(f"could not download {self.url}: {reason}") from error
        self.verify(data)
        return data

    def verify(self, data: bytes) -> None:
        """Raise `VendorError` unless `data` matches the pinned integrity string."""
        algorithm, _, expected = self.integrity.partition("-")
        if algorithm not in {"sha512", "sha384", "sha256"} or not expected:
            raise VendorError(
                f"integrity {self.integrity!r} of {self.name}@{self.version} is not a "
                "'sha512-<base64>' string (copy it from `npm view NAME@VERSION dist.integrity`)"
            )
        actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        if actual != expected:
            raise VendorError(
                f"{self.url} does not match the pinned integrity hash of "
                f"{self.name}@{self.version} (expected {self.integrity}, got "
                f"{algorithm}-{actual}); refusing to use it. Change the pin only after "
                "checking why the published tarball differs"
            )

    def vendor(self, files: Mapping[str, str], folder: Path, timeout: float = TIMEOUT) -> None:
        """Download, verify, and write each tarball member of `files` (member → file name)
        into `folder`; each file is replaced whole, never left half-written."""
        contents = extract(self.download(timeout), files, f"{self.name}@{self.version}")
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in contents.items():
            target = folder / name
            partial = target.with_name(f".{name}.part")
            partial.write_bytes(data)
            partial.replace(target)


def extract(tarball: bytes, files: Mapping[str, str], label: str) -> dict[str, bytes]:
    """The bytes of each member of `files` in the gzipped `tarball`, keyed by its file name."""
    contents: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for member, name in files.items():
            try:
                handle = archive.extractfile(member)
            except KeyError:
                handle = None
            if handle is None:
                raise VendorError(f"{member} is not a file in the tarball of {label}")
            contents[name] = handle.read()
    return contents
