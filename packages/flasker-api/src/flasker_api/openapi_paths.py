"""The paths of the document: one per URL of the endpoint table, with its operations.

The URLs and their methods come from `endpoint_table.model_endpoints`, the same table the
routes are registered from, so the document lists exactly what the API serves: collections,
items (composite keys as `{k1},{k2}`, unique columns as alternative keys), relation endpoints
and positions. Links lead from an answer that shows an entity to the operations on it::

    paths = ModelPaths(context, schemas, parameters, operations).model_paths(info)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._jsonschema import JSON_MEDIA_TYPE, component_name, path_safe, ref, replace_nullable
from .body_rules import json_pointer
from .endpoint_table import key_segment, model_endpoints
from .openapi_components import error_responses
from .openapi_operations import heading

if TYPE_CHECKING:
    from .model_info import ModelInfo, RelationInfo
    from .openapi_context import DocumentContext
    from .openapi_operations import Operations
    from .openapi_parameters import QueryParameters
    from .openapi_schemas import ModelSchemas

#: What a write of an item may answer besides its success.
WRITE_ERRORS = ("400", "403", "404", "409", "412", "415", "422")


class ModelPaths:
    """Writes the paths of the models of one document."""

    def __init__(
        self,
        context: DocumentContext,
        schemas: ModelSchemas,
        parameters: QueryParameters,
        operations: Operations,
    ) -> None:
        self.context = context
        self.schemas = schemas
        self.parameters = parameters
        self.operations = operations

    def model_paths(self, info: ModelInfo) -> dict[str, Any]:
        """Every path of the model's endpoints, with its operations and links."""
        segment, key_parameters = self.key_path(info)
        paths: dict[str, Any] = {}
        for endpoint in model_endpoints(info):
            path = endpoint.path(self.context.prefix, segment)
            methods = endpoint.methods
            if endpoint.kind == "collection":
                paths[path] = self.collection_operations(info, methods)
            elif endpoint.kind == "item" or endpoint.relation is None:
                paths[path] = self.item_operations(info, methods, key_parameters)
            elif endpoint.kind == "relation":
                paths[path] = self.relation_operations(
                    info, endpoint.relation, methods, key_parameters
                )
            else:
                paths[path] = self.position_operations(info, endpoint.relation, key_parameters)
        self.add_links(info, paths)
        return paths

    def key_path(self, info: ModelInfo) -> tuple[str, list[dict[str, Any]]]:
        """The key segment (`{id}`, `{k1},{k2}`) and its path parameters."""
        parameters = []
        for name in info.primary_key:
            field = info.fields[name]
            schema = self.schemas.key_part_schema(info, field)
            description = f"{info.name}'s {name}"
            if not info.is_composite and info.lookups:
                alternatives = [
                    self.schemas.key_part_schema(info, replace_nullable(info.fields[lookup]))
                    for lookup in info.lookups
                ]
                schema = {"anyOf": [schema, *alternatives]}
                description += ", or its " + " or ".join(info.lookups) + " (unique)"
            schema = path_safe(schema)
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": description + ".",
                    "schema": schema,
                }
            )
        return key_segment(info), parameters

    def collection_operations(self, info: ModelInfo, methods: tuple[str, ...]) -> dict[str, Any]:
        name = self.context.names[info.collection]
        operations: dict[str, Any] = {}
        if "GET" in methods:
            operations["get"] = self.operations.list_operation(
                info,
                operation_id=f"{info.collection}_list",
                summary=f"List {info.collection}",
                extra=[],
                not_found=False,
            )
        if "POST" in methods:
            operations["post"] = {
                **heading(info.collection, f"{info.collection}_create", f"Create a {info.name}"),
                "parameters": self.parameters.item_query_parameters(info),
                "requestBody": self.operations.request_body(f"{name}Create"),
                "responses": {
                    "201": {
                        "description": "Created.",
                        "headers": {
                            "Location": ref("headers", "Location"),
                            "ETag": ref("headers", "ETag"),
                        },
                        "content": {JSON_MEDIA_TYPE: {"schema": ref("schemas", name)}},
                    },
                    **error_responses("400", "403", "409", "415", "422"),
                },
            }
        return operations

    def item_operations(
        self, info: ModelInfo, methods: tuple[str, ...], key_parameters: list[dict[str, Any]]
    ) -> dict[str, Any]:
        name = self.context.names[info.collection]
        operations: dict[str, Any] = {}
        if "GET" in methods:
            operations["get"] = self.operations.read_operation(
                info,
                operation_id=f"{info.collection}_get",
                summary=f"Read a {info.name}",
                parameters=[*key_parameters, *self.parameters.item_query_parameters(info)],
            )
        for method, mode, verb in (("PUT", "Replace", "Replace"), ("PATCH", "Update", "Update")):
            if method in methods:
                operations[method.lower()] = {
                    **heading(
                        info.collection,
                        f"{info.collection}_{mode.lower()}",
                        f"{verb} a {info.name}",
                    ),
                    "parameters": [
                        *key_parameters,
                        *self.parameters.item_query_parameters(info),
                        ref("parameters", "IfMatch"),
                    ],
                    "requestBody": self.operations.request_body(f"{name}{mode}"),
                    "responses": {
                        "200": self.operations.entity_response(name, "The entity as stored."),
                        **error_responses(*WRITE_ERRORS),
                    },
                }
        if "DELETE" in methods:
            operations["delete"] = {
                **heading(info.collection, f"{info.collection}_delete", f"Delete a {info.name}"),
                "parameters": [*key_parameters, ref("parameters", "IfMatch")],
                "responses": {
                    "204": {"description": "Deleted."},
                    **error_responses("403", "404", "409", "412"),
                },
            }
        return operations

    def relation_operations(
        self,
        info: ModelInfo,
        relation: RelationInfo,
        methods: tuple[str, ...],
        key_parameters: list[dict[str, Any]],
    ) -> dict[str, Any]:
        target = self.context.target(relation)
        target_name = self.context.names[target.collection]
        operation_base = f"{info.collection}_{relation.name}"
        operations: dict[str, Any] = {}
        if "GET" in methods and relation.uselist:
            operations["get"] = self.operations.list_operation(
                target,
                operation_id=f"{operation_base}_list",
                summary=f"List the {relation.name} of a {info.name}",
                extra=key_parameters,
                not_found=True,
                tag=info.collection,
            )
        elif "GET" in methods:
            operations["get"] = {
                **heading(
                    info.collection,
                    f"{operation_base}_get",
                    f"Read the {relation.name} of a {info.name}",
                ),
                "parameters": [
                    *key_parameters,
                    *self.parameters.item_query_parameters(target),
                    ref("parameters", "IfNoneMatch"),
                ],
                "responses": {
                    "200": {
                        "description": f"The related {target.name}, or null when there is none.",
                        "headers": {"ETag": ref("headers", "ETag")},
                        "content": {
                            JSON_MEDIA_TYPE: {
                                "schema": {"anyOf": [ref("schemas", target_name), {"type": "null"}]}
                            }
                        },
                    },
                    "304": ref("responses", "NotModified"),
                    **error_responses("400", "403", "404"),
                },
            }
        if "PUT" in methods:
            in_key = [n for n in relation.local_fields if n in info.primary_key]
            operations["put"] = {
                **heading(
                    info.collection,
                    f"{operation_base}_replace",
                    f"Replace the {relation.name} of a {info.name}",
                ),
                **(
                    {
                        "description": f"{relation.name} is part of the key "
                        f"({', '.join(in_key)}): the key cannot change, so only the entity's "
                        "current one is accepted (422 otherwise)."
                    }
                    if in_key
                    else {}
                ),
                "parameters": list(key_parameters),
                "requestBody": {
                    "required": True,
                    "content": {
                        JSON_MEDIA_TYPE: {
                            "schema": self.schemas.relation_body_schema(info, relation, target)
                        }
                    },
                },
                "responses": {
                    "204": {"description": "Replaced."},
                    **error_responses("400", "403", "404", "409", "415", "422"),
                },
            }
        return operations

    def position_operations(
        self, info: ModelInfo, relation: RelationInfo, key_parameters: list[dict[str, Any]]
    ) -> dict[str, Any]:
        target = self.context.target(relation)
        operation_base = f"{info.collection}_{relation.name}"
        return {
            "get": self.operations.read_operation(
                target,
                operation_id=f"{operation_base}_position",
                summary=f"Read one of the {relation.name} of a {info.name}, by position",
                parameters=[
                    *key_parameters,
                    {
                        "name": "position",
                        "in": "path",
                        "required": True,
                        "description": f"1-based position in the {relation.name}, in the "
                        "relation's order (flasker 0.1).",
                        "schema": {"type": "integer", "minimum": 1},
                    },
                    *self.parameters.item_query_parameters(target),
                ],
                tag=info.collection,
            )
        }

    def add_links(self, info: ModelInfo, paths: dict[str, Any]) -> None:
        """OpenAPI links from the answers that show an entity (POST 201, GET 200) to the
        operations on that entity: its key parts come from the answer's body, and writes send
        its `ETag` back as `If-Match`. Clients and stateful testers (schemathesis) follow them
        from a created entity to reading, changing and deleting it."""
        key = {name: "$response.body#" + json_pointer(name) for name in info.primary_key}
        targets: dict[str, dict[str, Any]] = {}
        item_path = f"{self.context.prefix}/{info.collection}/{key_segment(info)}"
        for path, operations in paths.items():
            if path != item_path and not path.startswith(item_path + "/"):
                continue
            for method, operation in operations.items():
                if path.endswith("/{position}"):
                    continue  # a position is not in the entity's body
                parameters = dict(key)
                if path == item_path and method in ("put", "patch", "delete"):
                    parameters["header.If-Match"] = "$response.header.ETag"
                targets[operation["operationId"]] = parameters
        sources = [paths.get(f"{self.context.prefix}/{info.collection}/", {}).get("post")]
        sources.append(paths.get(item_path, {}).get("get"))
        for source in sources:
            if source is None:
                continue
            status = "201" if source["operationId"].endswith("_create") else "200"
            source["responses"][status]["links"] = {
                component_name(operation_id): {
                    "operationId": operation_id,
                    "parameters": parameters,
                }
                for operation_id, parameters in targets.items()
                if operation_id != source["operationId"]
            }
