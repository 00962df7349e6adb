"""The hatchling build hook `npm-vendor`: third-party front-end files into a package's wheel.

Why a build hook: the files are never committed and no PyPI package ships them, yet the wheel
(and the editable install `uv sync` makes) must contain them so pages work offline, without a
CDN. The hook runs before hatchling collects the package's files; when every listed file is
already in `folder` it does nothing, so only the first build (or one after deleting them) needs
the network, and a build from an sdist (which carries them as `artifacts`) never does.

Configured in the package's pyproject.toml::

    [tool.hatch.build.hooks.npm-vendor]
    package = "htmx.org"
    version = "2.0.11"
    integrity = "sha512-Thx/…"          # npm view htmx.org@2.0.11 dist.integrity
    folder = "src/flasker_console/static/vendor"
    files = { "package/dist/htmx.min.js" = "htmx.min.js" }   # tarball member -> file name
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.plugin import hookimpl

from .npm import DownloadError, NpmTarball, VendorError, registry_url

TABLE = "[tool.hatch.build.hooks.npm-vendor]"


class NpmVendorHook(BuildHookInterface):  # type: ignore[type-arg]
    """Make sure the listed files of one pinned npm package are in `folder`."""

    PLUGIN_NAME = "npm-vendor"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        tarball, folder, files = self._settings()
        if all((folder / name).is_file() for name in files.values()):
            return
        try:
            tarball.vendor(files, folder)
        except DownloadError as error:
            raise DownloadError(self._advice(tarball, folder, files, error)) from error
        except VendorError as error:
            raise VendorError(f"{self.metadata.name}: {error}") from error

    def _settings(self) -> tuple[NpmTarball, Path, dict[str, str]]:
        config = self.config
        values: dict[str, str] = {}
        for key in ("package", "version", "integrity", "folder"):
            value = config.get(key)
            if not isinstance(value, str) or not value:
                raise VendorError(f"{self._where()}: '{key}' must be a non-empty string")
            values[key] = value
        files = config.get("files")
        if not isinstance(files, dict) or not files:
            raise VendorError(
                f"{self._where()}: 'files' must be a table of tarball member = file name"
            )
        for member, name in files.items():
            if not isinstance(name, str) or not name or Path(name).name != name:
                raise VendorError(
                    f"{self._where()}: files.{member!r} must be a plain file name, not {name!r}"
                )
        tarball = NpmTarball(values["package"], values["version"], values["integrity"])
        return tarball, Path(self.root) / values["folder"], files

    def _where(self) -> str:
        return f"{Path(self.root) / 'pyproject.toml'} {TABLE}"

    def _advice(
        self, tarball: NpmTarball, folder: Path, files: dict[str, str], error: DownloadError
    ) -> str:
        wanted = ", ".join(f"{member} as {name}" for member, name in files.items())
        return (
            f"{self.metadata.name} needs files of the npm package "
            f"{tarball.name}@{tarball.version} in {folder}, and its build could not fetch "
            f"them: {error}.\n"
            f"What to do: make sure this machine reaches {registry_url()} over HTTPS (behind a "
            "proxy set HTTPS_PROXY; to use a registry mirror set NPM_CONFIG_REGISTRY) and build "
            f"again; or download {tarball.url} yourself, extract {wanted} into {folder}, and "
            "build again (the build then needs no network). Node.js is not needed."
        )


@hookimpl
def hatch_register_build_hook() -> type[BuildHookInterface]:  # type: ignore[type-arg]
    return NpmVendorHook
