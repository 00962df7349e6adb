"""The API's endpoint table: which URLs each collection has, and which methods each allows.

Route registration (routes.py), the index (`GET /api/`) and the OpenAPI document
(openapi_paths.py) all read it, so the routes served, listed and documented are the same::

    for endpoint in model_endpoints(info):
        endpoint.kind                       # "collection", "item", "relation" or "position"
        endpoint.methods                    # ("GET", "POST")
        endpoint.path("/api", "{id}")       # "/api/houses/"

Pure logic: no Flask, no request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .body_rules import is_writable

if TYPE_CHECKING:
    from .model_info import ModelInfo, RelationInfo

#: The methods of a collection URL (`/api/houses/`); the item URL has the others.
COLLECTION_METHODS = ("GET", "POST")


@dataclass(frozen=True)
class Endpoint:
    """One URL of a model's collection, with the methods it answers."""

    kind: str  # "collection" | "item" | "relation" | "position"
    info: ModelInfo
    methods: tuple[str, ...]
    relation: RelationInfo | None = None

    @property
    def name(self) -> str:
        """The Flask endpoint name (`houses_item`, `houses_cats_relation`)."""
        if self.relation is None:
            return f"{self.info.collection}_{self.kind}"
        return f"{self.info.collection}_{self.relation.name}_{self.kind}"

    def path(self, prefix: str, key: str, position: str = "{position}") -> str:
        """The URL under `prefix`, with `key` (and `position`) written as the caller needs:
        `{id}` for the index and the document, `<key>` for Flask's routing."""
        base = f"{prefix}/{self.info.collection}"
        if self.kind == "collection":
            return f"{base}/"
        if self.kind == "item" or self.relation is None:
            return f"{base}/{key}"
        relation = f"{base}/{key}/{self.relation.name}"
        if self.kind == "position":
            return f"{relation}/{position}"
        return relation + "/" if self.relation.uselist else relation


def key_segment(info: ModelInfo) -> str:
    """The key part of an item URL as the index and the document write it: `{id}`, `{k1},{k2}`."""
    return ",".join("{" + name + "}" for name in info.primary_key)


def relation_methods(info: ModelInfo, relation: RelationInfo) -> tuple[str, ...]:
    """GET when the model allows it, PUT when the model is writable (PUT or PATCH) and the
    relation is neither view-only nor dynamic."""
    methods = ["GET"] if info.allows("GET") else []
    if (info.allows("PUT") or info.allows("PATCH")) and is_writable(relation):
        methods.append("PUT")
    return tuple(methods)


def model_endpoints(info: ModelInfo) -> list[Endpoint]:
    """Every URL of the model that answers at least one method, in the order the index lists
    them: the collection, the item, then each relation and (for a to-many one read with GET)
    its positions."""
    methods = info.sorted_methods
    endpoints = [
        Endpoint("collection", info, tuple(m for m in methods if m in COLLECTION_METHODS)),
        Endpoint("item", info, tuple(m for m in methods if m != "POST")),
    ]
    for relation in info.relations.values():
        allowed = relation_methods(info, relation)
        endpoints.append(Endpoint("relation", info, allowed, relation))
        if relation.uselist and "GET" in allowed:
            endpoints.append(Endpoint("position", info, ("GET",), relation))
    return [endpoint for endpoint in endpoints if endpoint.methods]
