"""The OpenAPI 3.1 document of an `APIManager`, generated from its `ModelInfo`s and options.

Everything a client can send or receive is in it, so that the docs page, client generators and
schemathesis all see the API the endpoints implement (DESIGN.md, "HTTP contract"):

- one schema per model for what responses show (columns with their JSON types, formats,
  lengths, ranges and enums; `type: [..., "null"]` for nullable ones; read-only properties;
  relations, present when included, as nested objects or keys), and one per request body
  (`HouseCreate` for POST, `HouseReplace` for PUT, `HouseUpdate` for PATCH);
- every path and method: collections, items (composite keys as `{k1},{k2}`, unique columns as
  alternative keys), relation endpoints and positions, the index;
- every query parameter: one filter per column (the operator syntax in its description), the
  `or`/`and` groups, `sort`, `limit`, `offset`, `after`, `fields`, `fields[<type>]`,
  `include`, `depth`, `count`;
- the list envelope, `application/problem+json` errors, 304/412 and the `ETag`, `If-Match`,
  `If-None-Match`, `Location` and `Link` headers.

The document is built once per manager (and again only if its models or options are rebuilt)::

    document = build_openapi(api)        # a dict, served as /api/openapi.json

The returned dict is shared: treat it as read-only. The parts are written by small
collaborators, one module each: `openapi_components` (shared components),
`openapi_schemas` (model schemas), `openapi_parameters` (query parameters),
`openapi_operations` and `openapi_paths` (paths from the endpoint table).
"""

from __future__ import annotations

import threading
import weakref
from importlib import metadata
from typing import TYPE_CHECKING, Any

from ._jsonschema import JSON_MEDIA_TYPE, KEY_TEXT, KEY_TEXT_PART, NO_NUL, replace_nullable
from .openapi_components import (
    common_headers,
    common_parameters,
    common_responses,
    common_schemas,
)
from .openapi_context import DocumentContext, model_description
from .openapi_operations import Operations
from .openapi_parameters import RESERVED_PARAMETERS, QueryParameters
from .openapi_paths import ModelPaths
from .openapi_schemas import ModelSchemas
from .problems import PROBLEM_MIMETYPE

if TYPE_CHECKING:
    from ._site import APISite

OPENAPI_VERSION = "3.1.0"
#: The problem media type, under its former name here (problems.py owns it).
PROBLEM_MEDIA_TYPE = PROBLEM_MIMETYPE

__all__ = [
    "JSON_MEDIA_TYPE",
    "KEY_TEXT",
    "KEY_TEXT_PART",
    "NO_NUL",
    "OPENAPI_VERSION",
    "PROBLEM_MEDIA_TYPE",
    "RESERVED_PARAMETERS",
    "build_openapi",
    "replace_nullable",
]

_cache: weakref.WeakKeyDictionary[Any, tuple[Any, Any, dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def build_openapi(manager: APISite) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `manager`, built on first use and cached per manager."""
    models, options = manager.models, manager.options
    cached = _cache.get(manager)
    if cached is not None and cached[0] is models and cached[1] is options:
        return cached[2]
    with _lock:
        cached = _cache.get(manager)
        if cached is None or cached[0] is not models or cached[1] is not options:
            cached = (models, options, _document(DocumentContext.of(manager)))
            _cache[manager] = cached
    return cached[2]


def _document(context: DocumentContext) -> dict[str, Any]:
    """The document: the shared components, then each model's schemas, paths and tag."""
    parameters = QueryParameters(context)
    operations = Operations(context, parameters)
    model_schemas = ModelSchemas(context)
    model_paths = ModelPaths(context, model_schemas, parameters, operations)
    schemas = common_schemas()
    paths: dict[str, Any] = {f"{context.prefix}/": {"get": operations.index_operation()}}
    tags = []
    for info in context.infos.values():
        schemas.update(model_schemas.model_schemas(info))
        paths.update(model_paths.model_paths(info))
        tags.append({"name": info.collection, "description": model_description(info)})
    return {
        "openapi": OPENAPI_VERSION,
        "info": _info_object(context),
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "parameters": common_parameters(context.options),
            "headers": common_headers(),
            "responses": common_responses(),
        },
    }


def _info_object(context: DocumentContext) -> dict[str, Any]:
    project = context.site.project
    name = project.config.name if project is not None else "Flasker"
    try:
        version = metadata.version("flasker-api")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "0"
    return {
        "title": f"{name} API",
        "version": version,
        "description": (
            "REST endpoints generated from the models by flasker-api. Lists answer "
            '`{"data": [...], "meta": {...}}` with a `Link: <...>; rel="next"` header; single '
            "objects are bare. Reads carry an `ETag` (`If-None-Match` gives 304); writes "
            "honour `If-Match` (412 on a stale version). Errors are "
            "`application/problem+json`, naming the parameter or the field at fault."
        ),
    }
