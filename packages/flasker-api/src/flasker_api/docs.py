"""`/api/docs`: a Swagger UI page over the manager's OpenAPI document.

Swagger UI's JS and CSS (the npm package swagger-ui-dist) are never committed: the build hook
(`npm-vendor`, from packages/flasker-vendor-build) extracts them into `static/vendor/`. The
page loads them, and `static/docs.js` starts the UI on the `openapi.json` URL written in the
page (no inline script). Assets are served by the API blueprint's static folder when it has one
(`static_url_path="/docs/static"`), else by this page itself (`/api/docs?asset=docs.js`)::

    response = docs_page(api)            # the HTML page (or one asset)
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Response, abort, request, send_from_directory, url_for
from jinja2 import Environment, FileSystemLoader, select_autoescape

if TYPE_CHECKING:
    from ._site import APISite

#: The package's static folder (give it to the API blueprint as `static_folder`).
STATIC_FOLDER = Path(__file__).parent / "static"
#: Where the API blueprint serves it, under the URL prefix (`/api/docs/static/...`).
STATIC_URL_PATH = "/docs/static"
TEMPLATE_FOLDER = Path(__file__).parent / "templates"
TEMPLATE = "flasker_api/docs.html"

#: Files the page loads, by role; `vendor/` comes from the build hook.
ASSETS = {
    "css_url": "vendor/swagger-ui.css",
    "bundle_url": "vendor/swagger-ui-bundle.js",
    "page_css_url": "docs.css",
    "init_url": "docs.js",
}


class MissingAssetsError(RuntimeError):
    """Swagger UI's files are not in the package: the build hook did not run."""


def docs_page(manager: APISite) -> Response:
    """The docs page for `manager` (or, with `?asset=<name>`, one of its files)."""
    asset = request.args.get("asset")
    if asset is not None:
        return _asset(asset)
    missing = [name for name in ASSETS.values() if not (STATIC_FOLDER / name).is_file()]
    if missing:
        raise MissingAssetsError(
            f"flasker-api's docs page needs {', '.join(missing)} in {STATIC_FOLDER}: "
            "reinstall flasker-api so its build hook fetches them (in the workspace: "
            "`uv sync --reinstall-package flasker-api`, which downloads them from the npm registry)"
        )
    urls = {role: asset_url(manager, name) for role, name in ASSETS.items()}
    project = manager.project
    html = _template().render(
        title=project.config.name if project is not None else "Flasker",
        openapi_url=url_for(f"{manager.name}.openapi"),
        **urls,
    )
    return Response(html, mimetype="text/html")


def asset_url(manager: APISite, name: str) -> str:
    """URL of a static file: the blueprint's static route when it has one, else the page's."""
    blueprint = manager.blueprint
    if blueprint is not None and blueprint.has_static_folder:
        return url_for(f"{blueprint.name}.static", filename=name)
    return url_for(f"{manager.name}.docs", asset=name)


def _asset(name: str) -> Response:
    if name not in ASSETS.values():
        abort(404)
    return send_from_directory(STATIC_FOLDER, name)


@functools.cache
def _template():  # type: ignore[no-untyped-def]
    environment = Environment(
        loader=FileSystemLoader(TEMPLATE_FOLDER), autoescape=select_autoescape(["html"])
    )
    return environment.get_template(TEMPLATE)
