"""Route registration: one rule per endpoint and method, from the endpoint table.

Registering each URL with exactly the methods it answers lets Flask's routing give 404 and
405 (with `Allow`); the views are `Endpoints`' methods, bound to their model and relation. The
index, the OpenAPI document and the docs page come first; HTTP errors under the prefix answer
problem+json (error_pages.py)::

    blueprint = Blueprint("api", __name__, url_prefix="/api")
    register_routes(api, blueprint)
    app.register_blueprint(blueprint)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Response, request

from ._site import project_of
from .conditional import etag_of, is_fresh, json_response, not_modified
from .docs import docs_page
from .endpoint_table import model_endpoints
from .endpoints import Endpoints
from .error_pages import install_error_pages
from .openapi import build_openapi
from .problems import ApiProblem
from .serialize import dumps

if TYPE_CHECKING:
    from flask import Blueprint

    from ._site import APISite
    from .endpoint_table import Endpoint
    from .model_info import ModelInfo, RelationInfo

#: How Flask's rules write the key and the position of a URL.
KEY_RULE = "<key>"
POSITION_RULE = "<int(signed=True):position>"


def register_routes(site: APISite, blueprint: Blueprint) -> Endpoints:
    """Add one rule per endpoint and method (so 404 and 405 come from routing, with `Allow`)."""
    views = Endpoints(site)
    blueprint.add_url_rule("/", "index", views.index, methods=["GET"])
    blueprint.add_url_rule("/openapi.json", "openapi", _openapi_view(site, views))
    blueprint.add_url_rule("/docs", "docs", _docs_view(site, views))
    for info in site.models.values():
        for endpoint in model_endpoints(info):
            blueprint.add_url_rule(
                endpoint.path("", KEY_RULE, POSITION_RULE),
                endpoint.name,
                _view(views, endpoint),
                methods=list(endpoint.methods),
            )
    blueprint.register_error_handler(ApiProblem, lambda problem: problem.response())
    install_error_pages(project_of(site).app, blueprint, site.options.url_prefix)
    return views


def _view(views: Endpoints, endpoint: Endpoint) -> Callable[..., Response]:
    """The view of one endpoint: `Endpoints`' method for its kind, bound to its model (and
    relation), taking the URL's `key` (and `position`)."""
    info, relation = endpoint.info, endpoint.relation
    if endpoint.kind == "collection":
        return functools.partial(views.collection, info)
    if endpoint.kind == "item" or relation is None:
        item = functools.partial(views.item, info)
        return lambda key: item(key)
    if endpoint.kind == "relation":
        related = functools.partial(views.relation, info, relation)
        return lambda key: related(key)
    return functools.partial(_position, views, info, relation)


def _position(
    views: Endpoints, info: ModelInfo, relation: RelationInfo, key: str, position: int
) -> Response:
    return views.position(info, relation, key, position)


def _openapi_view(site: APISite, views: Endpoints) -> Callable[[], Response]:
    def openapi() -> Response:
        views.authorization.authorize("openapi", "GET", None)
        body = dumps(build_openapi(site))
        etag = etag_of(body)
        if is_fresh(request, etag):
            return not_modified(etag)
        return json_response(body, etag=etag)

    return openapi


def _docs_view(site: APISite, views: Endpoints) -> Callable[[], Response]:
    def docs() -> Response:
        views.authorization.authorize("docs", "GET", None)
        return docs_page(site)

    return docs
