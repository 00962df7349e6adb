"""The operations the document's paths are made of: the index, a page, one entity, a body.

Paths (openapi_paths.py) put them together per endpoint; a list of a collection and a list of
a relation share `list_operation`, an item and a position share `read_operation`::

    operations = Operations(context, QueryParameters(context))
    operations.list_operation(info, operation_id="houses_list", summary="List houses",
                              extra=[], not_found=False)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._jsonschema import JSON_MEDIA_TYPE, ref
from .openapi_components import error_responses

if TYPE_CHECKING:
    from .model_info import ModelInfo
    from .openapi_context import DocumentContext
    from .openapi_parameters import QueryParameters


def heading(tag: str, operation_id: str, summary: str) -> dict[str, Any]:
    """How every operation begins: the tag it is listed under (its collection, or the index),
    its id (links name their target by it) and its summary."""
    return {"tags": [tag], "operationId": operation_id, "summary": summary}


class Operations:
    """Writes the operation objects of one document."""

    def __init__(self, context: DocumentContext, parameters: QueryParameters) -> None:
        self.context = context
        self.parameters = parameters

    def index_operation(self) -> dict[str, Any]:
        return {
            **heading("index", "index", "Every collection and endpoint of the API"),
            "responses": {
                "200": {
                    "description": "The index.",
                    "content": {JSON_MEDIA_TYPE: {"schema": ref("schemas", "Index")}},
                },
                **error_responses("403"),
            },
        }

    def list_operation(
        self,
        info: ModelInfo,
        *,
        operation_id: str,
        summary: str,
        extra: list[dict[str, Any]],
        not_found: bool,
        tag: str | None = None,
    ) -> dict[str, Any]:
        name = self.context.names[info.collection]
        return {
            **heading(tag or info.collection, operation_id, summary),
            "parameters": [
                *extra,
                *self.parameters.filter_parameters(info),
                *self.parameters.group_parameters(info),
                self.parameters.sort_parameter(info),
                ref("parameters", "limit"),
                ref("parameters", "offset"),
                ref("parameters", "after"),
                ref("parameters", "count"),
                *self.parameters.selection_parameters(info),
                ref("parameters", "IfNoneMatch"),
            ],
            "responses": {
                "200": {
                    "description": "A page, in the envelope.",
                    "headers": {
                        "ETag": ref("headers", "ETag"),
                        "Link": ref("headers", "Link"),
                    },
                    "content": {JSON_MEDIA_TYPE: {"schema": ref("schemas", f"{name}List")}},
                },
                "304": ref("responses", "NotModified"),
                **error_responses("400", "403", *(("404",) if not_found else ())),
            },
        }

    def read_operation(
        self,
        info: ModelInfo,
        *,
        operation_id: str,
        summary: str,
        parameters: list[dict[str, Any]],
        tag: str | None = None,
    ) -> dict[str, Any]:
        name = self.context.names[info.collection]
        return {
            **heading(tag or info.collection, operation_id, summary),
            "parameters": [*parameters, ref("parameters", "IfNoneMatch")],
            "responses": {
                "200": self.entity_response(name, f"The {info.name}."),
                "304": ref("responses", "NotModified"),
                **error_responses("400", "403", "404"),
            },
        }

    def entity_response(self, name: str, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "headers": {"ETag": ref("headers", "ETag")},
            "content": {JSON_MEDIA_TYPE: {"schema": ref("schemas", name)}},
        }

    def request_body(self, schema_name: str) -> dict[str, Any]:
        return {
            "required": True,
            "content": {JSON_MEDIA_TYPE: {"schema": ref("schemas", schema_name)}},
        }
