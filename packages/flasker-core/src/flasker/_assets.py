"""Serving flasker's bundled front-end assets (Bootstrap) to every project's app.

Why: scaffolded projects and the example style their pages with Bootstrap without a CDN (they work
offline and behind strict CSP) and without copying third-party files into each project. The files
live in `flasker/static/vendor/`, fetched at build time by the `npm-vendor` build hook
(flasker-vendor-build), and are served under a prefix no project route is likely to use::

    <link rel="stylesheet"
          href="{{ url_for('flasker_assets.static', filename='vendor/bootstrap.min.css') }}">
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger(__name__)

BLUEPRINT_NAME = "flasker_assets"
URL_PATH = "/_flasker/static"
STATIC_FOLDER = Path(__file__).parent / "static"
#: Files the build hook vendors; a missing one means the install skipped the hook.
VENDORED = ("vendor/bootstrap.min.css", "vendor/bootstrap.bundle.min.js")


def init_assets(app: Flask) -> None:
    """Register the `flasker_assets` blueprint on `app`; calling it again does nothing."""
    from flask import Blueprint

    if BLUEPRINT_NAME in app.blueprints:
        return
    missing = [name for name in VENDORED if not (STATIC_FOLDER / name).is_file()]
    if missing:
        logger.warning(
            "flasker's vendored assets are missing (%s): reinstall flasker-core, which "
            "fetches them from the npm registry, no Node.js needed "
            "(in the workspace: uv sync --reinstall-package flasker-core)",
            ", ".join(missing),
        )
    blueprint = Blueprint(
        BLUEPRINT_NAME, __name__, static_folder=STATIC_FOLDER, static_url_path=URL_PATH
    )
    app.register_blueprint(blueprint)
