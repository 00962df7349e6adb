"""flasker-vendor-build: a hatchling build hook that vendors files of a pinned npm package.

Registered with hatchling as the build hook `npm-vendor` (`[tool.hatch.build.hooks.npm-vendor]`);
the download itself lives in `npm` and needs only the standard library.
"""

from .npm import DownloadError, NpmTarball, VendorError
from .plugin import NpmVendorHook

__all__ = ["DownloadError", "NpmTarball", "NpmVendorHook", "VendorError"]
