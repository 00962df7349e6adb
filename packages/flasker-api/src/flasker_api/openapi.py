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

The returned dict is shared: treat it as read-only.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable
from importlib import metadata
from typing import TYPE_CHECKING, Any

from .model_info import FieldInfo, ModelInfo, PropertyInfo, RelationInfo
from .query import ITEM_PARAMETERS, LIST_PARAMETERS, OPERATORS

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

    from .manager import APIManager

OPENAPI_VERSION = "3.1.0"
PROBLEM_MEDIA_TYPE = "application/problem+json"
JSON_MEDIA_TYPE = "application/json"
#: Text without NUL characters, which the API refuses in every text value.
NO_NUL = "^[^\\x00]*$"
#: A text key a URL can name: not empty, `.` nor `..`, no `/` (nor NUL); KEY_TEXT_PART for a
#: part of a composite key also has no `,`.
KEY_TEXT = r"^(?:[^\x00/.][^\x00/]*|\.[^\x00/.][^\x00/]*|\.\.[^\x00/]+)$"
KEY_TEXT_PART = r"^(?:[^\x00/.,][^\x00/,]*|\.[^\x00/.,][^\x00/,]*|\.\.[^\x00/,]+)$"

#: Query parameters that are not filters; a column with one of these names cannot be filtered.
RESERVED_PARAMETERS = frozenset({*LIST_PARAMETERS, "and", "not.or", "not.and"})

_cache: weakref.WeakKeyDictionary[Any, tuple[Any, Any, dict[str, Any]]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def build_openapi(manager: APIManager) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `manager`, built on first use and cached per manager."""
    models, options = manager.models, manager.options
    cached = _cache.get(manager)
    if cached is not None and cached[0] is models and cached[1] is options:
        return cached[2]
    with _lock:
        cached = _cache.get(manager)
        if cached is None or cached[0] is not models or cached[1] is not options:
            cached = (models, options, _Builder(manager).document())
            _cache[manager] = cached
    return cached[2]


# -- small schema helpers -------------------------------------------------------------------------
def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null: `type: [t, "null"]` when it has a single type, else `anyOf`."""
    if not schema:  # any JSON value, null included
        return schema
    kind = schema.get("type")
    if isinstance(kind, str) and "$ref" not in schema:
        result = {**schema, "type": [kind, "null"]}
        if "enum" in result and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
        return result
    if isinstance(kind, list):
        return schema if "null" in kind else {**schema, "type": [*kind, "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _json_type_schema(json_type: str, items_type: str | None = None) -> dict[str, Any]:
    if json_type == "any":
        return {}
    schema: dict[str, Any] = {"type": json_type}
    if json_type == "array":
        schema["items"] = _json_type_schema(items_type or "any")
    return schema


def _with_description(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if not description:
        return schema
    if "$ref" in schema:  # siblings of $ref are allowed in 3.1, but keep refs plain
        return {"allOf": [schema], "description": description}
    return {**schema, "description": description}


def _component_name(text: str) -> str:
    """A name allowed in `components` (`^[a-zA-Z0-9._-]+$`)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def _camel(collection: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", collection))


# -- the builder ----------------------------------------------------------------------------------
class _Builder:
    """Builds one document; its methods each produce one part."""

    def __init__(self, manager: APIManager) -> None:
        self.manager = manager
        self.options = manager.options
        self.prefix = manager.options.url_prefix
        self.infos: dict[str, ModelInfo] = dict(manager.models)
        by_class: dict[str, list[ModelInfo]] = {}
        for info in self.infos.values():
            by_class.setdefault(info.name, []).append(info)
        #: collection → component name of its schema (the class name, unless two share it)
        self.names = {
            info.collection: _component_name(
                info.name if len(by_class[info.name]) == 1 else _camel(info.collection)
            )
            for info in self.infos.values()
        }
        self.schemas: dict[str, Any] = {}

    def info_for(self, model: type) -> ModelInfo | None:
        return self.manager.info_for(model)

    # -- document ---------------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        self.schemas.update(self.common_schemas())
        paths: dict[str, Any] = {f"{self.prefix}/": {"get": self.index_operation()}}
        tags = []
        for info in self.infos.values():
            self.schemas.update(self.model_schemas(info))
            paths.update(self.model_paths(info))
            tags.append({"name": info.collection, "description": self.model_description(info)})
        return {
            "openapi": OPENAPI_VERSION,
            "info": self.info_object(),
            "tags": tags,
            "paths": paths,
            "components": {
                "schemas": self.schemas,
                "parameters": self.common_parameters(),
                "headers": self.common_headers(),
                "responses": self.common_responses(),
            },
        }

    def info_object(self) -> dict[str, Any]:
        project = self.manager.project
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

    def model_description(self, info: ModelInfo) -> str:
        if info.description:
            return info.description
        return f"The {info.name} model (table `{info.collection}`)."

    # -- components shared by every model ---------------------------------------------------------
    def common_schemas(self) -> dict[str, Any]:
        return {
            "Problem": {
                "type": "object",
                "description": "An error (RFC 9457 problem details).",
                "required": ["type", "title", "status", "detail"],
                "properties": {
                    "type": {"type": "string", "description": "Always `about:blank`."},
                    "title": {"type": "string", "description": "The HTTP status phrase."},
                    "status": {"type": "integer", "minimum": 100, "maximum": 599},
                    "detail": {"type": "string", "description": "What is wrong, in words."},
                    "errors": {
                        "type": "array",
                        "description": "Every problem found, each naming where it is.",
                        "items": _ref("schemas", "ProblemError"),
                    },
                },
            },
            "ProblemError": {
                "type": "object",
                "required": ["message"],
                "properties": {
                    "parameter": {
                        "type": "string",
                        "description": "The query parameter (or header) at fault.",
                    },
                    "pointer": {
                        "type": "string",
                        "description": "A JSON pointer into the request body (`/address`).",
                    },
                    "message": {"type": "string"},
                },
            },
            "ListMeta": {
                "type": "object",
                "required": ["total", "returned", "limit", "offset", "next"],
                "properties": {
                    "total": {
                        "type": ["integer", "null"],
                        "minimum": 0,
                        "description": "Rows matching the filters; null with `count=none`.",
                    },
                    "returned": {"type": "integer", "minimum": 0},
                    "limit": {"type": "integer", "minimum": 0},
                    "offset": {
                        "type": ["integer", "null"],
                        "minimum": 0,
                        "description": "The `offset` given; null without one or with `after`.",
                    },
                    "next": {
                        "type": ["string", "null"],
                        "description": "URL of the next page (also in the `Link` header), "
                        "null on the last page.",
                    },
                },
            },
            "Index": {
                "type": "object",
                "required": ["collections", "endpoints", "openapi", "docs"],
                "properties": {
                    "collections": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "Collection name → its URL.",
                    },
                    "endpoints": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["path", "methods"],
                            "properties": {
                                "path": {"type": "string"},
                                "methods": {
                                    "type": "array",
                                    "items": {
                                        "type": "string",
                                        "enum": ["GET", "POST", "PUT", "PATCH", "DELETE"],
                                    },
                                },
                            },
                        },
                    },
                    "openapi": {"type": "string"},
                    "docs": {"type": "string"},
                },
            },
        }

    def common_parameters(self) -> dict[str, Any]:
        options = self.options
        limit: dict[str, Any] = {"type": "integer", "minimum": 0, "default": options.default_limit}
        if options.max_limit:
            limit["maximum"] = options.max_limit
        return {
            "limit": {
                "name": "limit",
                "in": "query",
                "description": f"Page size (default {options.default_limit}"
                + (f", at most {options.max_limit}" if options.max_limit else "")
                + ").",
                "schema": limit,
            },
            "offset": {
                "name": "offset",
                "in": "query",
                "description": "Rows to skip. Prefer `after` (the `next` URL uses it) for deep "
                "pages; give one or the other.",
                "schema": {"type": "integer", "minimum": 0, "maximum": 999_999_999_999},
            },
            "after": {
                "name": "after",
                "in": "query",
                "description": "Opaque cursor from `meta.next` / the `Link` header: the page "
                "after the last row seen (keyset pagination). Valid with the same `sort` only.",
                "schema": {"type": "string"},
            },
            "depth": {
                "name": "depth",
                "in": "query",
                "description": "Levels of related entities nested in the answer (default "
                f"{options.default_depth}, at most {options.max_depth}). An entity appears in "
                "full once per response; a repeat is its key. Give `depth` or `include`.",
                "schema": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": options.max_depth,
                    "default": options.default_depth,
                },
            },
            "count": {
                "name": "count",
                "in": "query",
                "description": "`exact` counts the matching rows into `meta.total`; `none` "
                f"skips the count (`total` is null). Default `{options.count}`.",
                "schema": {"type": "string", "enum": ["exact", "none"], "default": options.count},
            },
            "IfNoneMatch": {
                "name": "If-None-Match",
                "in": "header",
                "description": "ETags the client holds: 304 Not Modified when one is current.",
                "schema": {"type": "string"},
            },
            "IfMatch": {
                "name": "If-Match",
                "in": "header",
                "description": "The ETag the client read (from a GET of the entity without "
                "query string): 412 Precondition Failed when the entity changed since.",
                "schema": {"type": "string"},
            },
        }

    def common_headers(self) -> dict[str, Any]:
        return {
            "ETag": {
                "description": "Version of the representation (weak `W/` for lists): send it "
                "back in `If-None-Match` (reads) or `If-Match` (writes).",
                "schema": {"type": "string"},
            },
            "Location": {
                "description": "URL of the created entity.",
                "required": True,
                "schema": {"type": "string"},
            },
            "Link": {
                "description": 'The next page, `<url>; rel="next"`, when there is one.',
                "schema": {"type": "string"},
            },
        }

    def common_responses(self) -> dict[str, Any]:
        def problem(description: str) -> dict[str, Any]:
            return {
                "description": description,
                "content": {PROBLEM_MEDIA_TYPE: {"schema": _ref("schemas", "Problem")}},
            }

        return {
            "NotModified": {
                "description": "Not Modified: the `If-None-Match` ETag is current.",
                "headers": {"ETag": _ref("headers", "ETag")},
            },
            "BadRequest": problem(
                "Bad Request: an unknown query parameter, a bad operator or value, or a body "
                "that is not JSON (`errors` names each parameter)."
            ),
            "Forbidden": problem("Forbidden: an `authorize` hook refused the request."),
            "NotFound": problem("Not Found: no entity with this key (or position)."),
            "Conflict": problem(
                "Conflict: the database refused the change (a unique or foreign-key "
                "constraint); nothing was changed."
            ),
            "PreconditionFailed": problem(
                "Precondition Failed: `If-Match` does not name the current ETag."
            ),
            "UnsupportedMediaType": problem("Unsupported Media Type: send `application/json`."),
            "UnprocessableContent": problem(
                "Unprocessable Content: unknown fields, wrong types, missing required fields "
                "or a validator's messages (`errors` points at each field)."
            ),
        }

    # -- per-model schemas ------------------------------------------------------------------------
    def model_schemas(self, info: ModelInfo) -> dict[str, Any]:
        name = self.names[info.collection]
        schemas = {
            name: self.entity_schema(info),
            f"{name}Key": self.key_schema(info),
            f"{name}List": {
                "type": "object",
                "description": f"A page of {info.collection}.",
                "required": ["data", "meta"],
                "properties": {
                    "data": {"type": "array", "items": _ref("schemas", name)},
                    "meta": _ref("schemas", "ListMeta"),
                },
            },
        }
        if info.allows("POST"):
            schemas[f"{name}Create"] = self.body_schema(info, "create")
        if info.allows("PUT"):
            schemas[f"{name}Replace"] = self.body_schema(info, "replace")
        if info.allows("PATCH"):
            schemas[f"{name}Update"] = self.body_schema(info, "update")
        return schemas

    def entity_schema(self, info: ModelInfo) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for field in info.fields.values():
            properties[field.name] = self.field_schema(info, field, response=True)
        for prop in info.properties.values():
            properties[prop.name] = self.property_schema(prop)
        for relation in info.relations.values():
            properties[relation.name] = self.relation_schema(relation)
        schema: dict[str, Any] = {
            "type": "object",
            "description": (
                f"{self.model_description(info)} Relations appear when included (`include=` "
                "or `depth=`): an entity in full, or its key when the response already shows "
                "it. `fields=` keeps only the fields named (the key always stays)."
            ),
            "required": list(info.primary_key),
            "properties": properties,
        }
        return schema

    def field_schema(self, info: ModelInfo, field: FieldInfo, *, response: bool) -> dict[str, Any]:
        """A column's value; `response=False` describes what a request body may carry."""
        schema = _json_type_schema(field.json_type, field.items_type)
        notes = [field.description]
        fmt = field.format
        if fmt == "date-time" and response and not _is_timezone_aware(info, field):
            # SQL `TIMESTAMP WITHOUT TIME ZONE`: ISO 8601 without offset, not RFC 3339
            schema["pattern"] = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$"
            notes.append("Date and time without UTC offset (ISO 8601).")
        elif fmt == "duration":
            notes.append("A duration in seconds.")
        elif fmt == "decimal":
            schema["format"] = "decimal"
            schema["pattern"] = r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$"
            number: dict[str, Any] = {"type": "number"}
            if field.precision is not None and not response:
                # Numeric(p, s): at most p - s digits before the point
                whole = field.precision - (field.scale or 0)
                schema["pattern"] = _decimal_pattern(whole)
                number.update(exclusiveMinimum=-(10**whole), exclusiveMaximum=10**whole)
                notes.append(f"At most {whole} digits before the decimal point.")
            if not response:  # a JSON number is accepted too
                schema = {"anyOf": [schema, number]}
        elif fmt is not None:
            schema["format"] = fmt
            if fmt == "byte":
                schema["contentEncoding"] = "base64"
        if field.enum is not None:
            schema["enum"] = list(field.enum)
        elif field.json_type == "string" and fmt is None:
            schema["pattern"] = NO_NUL  # the API refuses NUL in text (PostgreSQL cannot store it)
        if field.max_length is not None and field.json_type == "string" and fmt != "byte":
            schema["maxLength"] = field.max_length
        if field.json_type == "integer" and field.enum is None:
            if field.minimum is not None:
                schema["minimum"] = field.minimum
            if field.maximum is not None:
                schema["maximum"] = field.maximum
        if field.primary_key and field.autoincrement:
            notes.append("Primary key, given by the database when omitted.")
        elif field.primary_key:
            notes.append("Primary key.")
        elif field.unique:
            notes.append("Unique: also usable as the key in item URLs.")
        description = " ".join(note for note in notes if note)
        if field.nullable:
            schema = _nullable(schema)
        return _with_description(schema, description or None)

    def property_schema(self, prop: PropertyInfo) -> dict[str, Any]:
        schema = _json_type_schema(prop.json_type, prop.items_type)
        if prop.format is not None and prop.format != "duration":
            schema["format"] = prop.format
        if prop.nullable:
            schema = _nullable(schema)
        schema["readOnly"] = True
        note = "Computed (read-only)."
        return {**schema, "description": f"{prop.description} {note}" if prop.description else note}

    def relation_schema(self, relation: RelationInfo) -> dict[str, Any]:
        target = self.info_for(relation.target)
        assert target is not None
        name = self.names[target.collection]
        entity = {"anyOf": [_ref("schemas", name), _ref("schemas", f"{name}Key")]}
        if relation.uselist:
            schema: dict[str, Any] = {"type": "array", "items": entity}
        else:
            schema = {"anyOf": [*entity["anyOf"], {"type": "null"}]}
        verb = "Read-only relation" if relation.read_only or relation.is_dynamic else "Relation"
        text = f"{verb} to {target.collection}; present only when included."
        if relation.description:
            text = f"{relation.description} {text}"
        return {**schema, "description": text}

    def key_schema(self, info: ModelInfo) -> dict[str, Any]:
        """How a response shows an entity already shown, and how a body names one."""
        parts = [self.key_part_schema(info, info.fields[name]) for name in info.primary_key]
        if len(parts) == 1:
            return _with_description(parts[0], f"The key of a {info.name} ({info.primary_key[0]}).")
        return {
            "type": "array",
            "description": f"The key of a {info.name}: [{', '.join(info.primary_key)}].",
            "prefixItems": parts,
            "items": False,
            "minItems": len(parts),
            "maxItems": len(parts),
        }

    def key_part_schema(self, info: ModelInfo, field: FieldInfo) -> dict[str, Any]:
        schema = self.field_schema(info, replace_nullable(field), response=True)
        schema.pop("description", None)
        return schema

    def body_schema(self, info: ModelInfo, mode: str) -> dict[str, Any]:
        """A request body: `create` (POST), `replace` (PUT) or `update` (PATCH)."""
        properties: dict[str, Any] = {}
        for field in info.fields.values():
            schema = self.field_schema(info, field, response=False)
            if field.primary_key and mode == "create" and schema.get("pattern") == NO_NUL:
                schema["pattern"] = KEY_TEXT_PART if info.is_composite else KEY_TEXT
            if not field.nullable and field.has_default and mode == "create":
                schema = _nullable(schema)  # null means "use the default"
            if field.primary_key and mode != "create":
                schema = _with_description(
                    schema, "The key cannot change: when given, it must be the entity's own."
                )
            properties[field.name] = schema
        for relation in info.relations.values():
            if relation.read_only or relation.is_dynamic:
                continue
            target = self.info_for(relation.target)
            assert target is not None
            properties[relation.name] = self.relation_body_schema(info, relation, target)
        required: list[str] = []
        alternatives: list[dict[str, Any]] = []
        if mode in ("create", "replace"):
            for field in info.fields.values():
                if not field.required or (mode == "replace" and field.primary_key):
                    continue
                covering = [
                    r.name
                    for r in info.relations.values()
                    if field.name in r.local_fields and r.name in properties
                ]
                if covering:  # `house_id` or a non-null `house`
                    alternatives.append(
                        {
                            "anyOf": [
                                {"required": [field.name]},
                                *(
                                    {
                                        "required": [name],
                                        "properties": {name: {"not": {"type": "null"}}},
                                    }
                                    for name in covering
                                ),
                            ]
                        }
                    )
                else:
                    required.append(field.name)
        what = {
            "create": "POST: the fields of a new entity. Required: non-nullable columns "
            "without a default.",
            "replace": "PUT: the whole entity. Nullable columns left out become null.",
            "update": "PATCH: only the fields to change.",
        }[mode]
        schema = {
            "type": "object",
            "description": f"{what} Relations take keys: one key, or a list of keys for a "
            "to-many relation. Computed properties cannot be written.",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        if len(alternatives) == 1:
            schema.update(alternatives[0])
        elif alternatives:
            schema["allOf"] = alternatives
        return schema

    def relation_body_schema(
        self, owner: ModelInfo, relation: RelationInfo, target: ModelInfo
    ) -> dict[str, Any]:
        name = self.names[target.collection]
        key_object = {
            "type": "object",
            "required": list(target.primary_key),
            "properties": {
                n: self.key_part_schema(target, target.fields[n]) for n in target.primary_key
            },
        }
        one = {"anyOf": [_ref("schemas", f"{name}Key"), key_object]}
        if relation.uselist:
            return {
                "type": "array",
                "items": one,
                "description": f"Keys of {target.collection}: the whole set (replaces it).",
            }
        local = [owner.fields[n] for n in relation.local_fields if n in owner.fields]
        if any(not field.nullable for field in local):  # its key columns cannot be null
            return {**one, "description": f"Key of the {target.collection} entity."}
        return {
            "anyOf": [*one["anyOf"], {"type": "null"}],
            "description": f"Key of the {target.collection} entity, or null.",
        }

    # -- paths ----------------------------------------------------------------------------------
    def key_path(self, info: ModelInfo) -> tuple[str, list[dict[str, Any]]]:
        """The key segment (`{id}`, `{k1},{k2}`) and its path parameters."""
        parameters = []
        for name in info.primary_key:
            field = info.fields[name]
            schema = self.key_part_schema(info, field)
            description = f"{info.name}'s {name}"
            if not info.is_composite and info.lookups:
                alternatives = [
                    self.key_part_schema(info, replace_nullable(info.fields[lookup]))
                    for lookup in info.lookups
                ]
                schema = {"anyOf": [schema, *alternatives]}
                description += ", or its " + " or ".join(info.lookups) + " (unique)"
            schema = _path_safe(schema)
            parameters.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": description + ".",
                    "schema": schema,
                }
            )
        segment = ",".join("{" + n + "}" for n in info.primary_key)
        return segment, parameters

    def model_paths(self, info: ModelInfo) -> dict[str, Any]:
        name = self.names[info.collection]
        base = f"{self.prefix}/{info.collection}"
        segment, key_parameters = self.key_path(info)
        paths: dict[str, Any] = {}
        collection: dict[str, Any] = {}
        if info.allows("GET"):
            collection["get"] = self.list_operation(
                info,
                operation_id=f"{info.collection}_list",
                summary=f"List {info.collection}",
                extra=[],
                not_found=False,
            )
        if info.allows("POST"):
            collection["post"] = {
                "tags": [info.collection],
                "operationId": f"{info.collection}_create",
                "summary": f"Create a {info.name}",
                "parameters": self.item_query_parameters(info),
                "requestBody": self.request_body(f"{name}Create"),
                "responses": {
                    "201": {
                        "description": "Created.",
                        "headers": {
                            "Location": _ref("headers", "Location"),
                            "ETag": _ref("headers", "ETag"),
                        },
                        "content": {JSON_MEDIA_TYPE: {"schema": _ref("schemas", name)}},
                    },
                    **self.errors("400", "403", "409", "415", "422"),
                },
            }
        if collection:
            paths[f"{base}/"] = collection
        item: dict[str, Any] = {}
        if info.allows("GET"):
            item["get"] = self.read_operation(
                info,
                operation_id=f"{info.collection}_get",
                summary=f"Read a {info.name}",
                parameters=[*key_parameters, *self.item_query_parameters(info)],
            )
        write_errors = ("400", "403", "404", "409", "412", "415", "422")
        for method, mode, verb in (("PUT", "Replace", "Replace"), ("PATCH", "Update", "Update")):
            if info.allows(method):
                item[method.lower()] = {
                    "tags": [info.collection],
                    "operationId": f"{info.collection}_{mode.lower()}",
                    "summary": f"{verb} a {info.name}",
                    "parameters": [
                        *key_parameters,
                        *self.item_query_parameters(info),
                        _ref("parameters", "IfMatch"),
                    ],
                    "requestBody": self.request_body(f"{name}{mode}"),
                    "responses": {
                        "200": self.entity_response(name, "The entity as stored."),
                        **self.errors(*write_errors),
                    },
                }
        if info.allows("DELETE"):
            item["delete"] = {
                "tags": [info.collection],
                "operationId": f"{info.collection}_delete",
                "summary": f"Delete a {info.name}",
                "parameters": [*key_parameters, _ref("parameters", "IfMatch")],
                "responses": {
                    "204": {"description": "Deleted."},
                    **self.errors("403", "404", "409", "412"),
                },
            }
        if item:
            paths[f"{base}/{segment}"] = item
        for relation in info.relations.values():
            paths.update(self.relation_paths(info, relation, f"{base}/{segment}", key_parameters))
        self.add_links(info, paths)
        return paths

    def add_links(self, info: ModelInfo, paths: dict[str, Any]) -> None:
        """OpenAPI links from the answers that show an entity (POST 201, GET 200) to the
        operations on that entity: its key parts come from the answer's body, and writes send
        its `ETag` back as `If-Match`. Clients and stateful testers (schemathesis) follow them
        from a created entity to reading, changing and deleting it."""
        key = {
            name: "$response.body#/" + name.replace("~", "~0").replace("/", "~1")
            for name in info.primary_key
        }
        targets: dict[str, dict[str, Any]] = {}
        item_path = f"{self.prefix}/{info.collection}/" + ",".join(
            "{" + n + "}" for n in info.primary_key
        )
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
        sources = [paths.get(f"{self.prefix}/{info.collection}/", {}).get("post")]
        sources.append(paths.get(item_path, {}).get("get"))
        for source in sources:
            if source is None:
                continue
            status = "201" if source["operationId"].endswith("_create") else "200"
            source["responses"][status]["links"] = {
                _component_name(operation_id): {
                    "operationId": operation_id,
                    "parameters": parameters,
                }
                for operation_id, parameters in targets.items()
                if operation_id != source["operationId"]
            }

    def relation_paths(
        self,
        info: ModelInfo,
        relation: RelationInfo,
        item_path: str,
        key_parameters: list[dict[str, Any]],
    ) -> dict[str, Any]:
        target = self.info_for(relation.target)
        assert target is not None
        target_name = self.names[target.collection]
        methods = self.relation_methods(info, relation)
        if not methods:
            return {}
        operation_base = f"{info.collection}_{relation.name}"
        path = f"{item_path}/{relation.name}" + ("/" if relation.uselist else "")
        operations: dict[str, Any] = {}
        if "GET" in methods and relation.uselist:
            operations["get"] = self.list_operation(
                target,
                operation_id=f"{operation_base}_list",
                summary=f"List the {relation.name} of a {info.name}",
                extra=key_parameters,
                not_found=True,
                tag=info.collection,
            )
        elif "GET" in methods:
            operations["get"] = {
                "tags": [info.collection],
                "operationId": f"{operation_base}_get",
                "summary": f"Read the {relation.name} of a {info.name}",
                "parameters": [
                    *key_parameters,
                    *self.item_query_parameters(target),
                    _ref("parameters", "IfNoneMatch"),
                ],
                "responses": {
                    "200": {
                        "description": f"The related {target.name}, or null when there is none.",
                        "headers": {"ETag": _ref("headers", "ETag")},
                        "content": {
                            JSON_MEDIA_TYPE: {
                                "schema": {
                                    "anyOf": [_ref("schemas", target_name), {"type": "null"}]
                                }
                            }
                        },
                    },
                    "304": _ref("responses", "NotModified"),
                    **self.errors("400", "403", "404"),
                },
            }
        if "PUT" in methods:
            in_key = [n for n in relation.local_fields if n in info.primary_key]
            operations["put"] = {
                "tags": [info.collection],
                "operationId": f"{operation_base}_replace",
                "summary": f"Replace the {relation.name} of a {info.name}",
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
                            "schema": self.relation_body_schema(info, relation, target)
                        }
                    },
                },
                "responses": {
                    "204": {"description": "Replaced."},
                    **self.errors("400", "403", "404", "409", "415", "422"),
                },
            }
        paths = {path: operations}
        if relation.uselist and "GET" in methods:
            paths[f"{item_path}/{relation.name}/{{position}}"] = {
                "get": self.read_operation(
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
                        *self.item_query_parameters(target),
                    ],
                    tag=info.collection,
                )
            }
        return paths

    def relation_methods(self, info: ModelInfo, relation: RelationInfo) -> list[str]:
        """As endpoints.py registers them: GET when the model allows it, PUT when it is
        writable and the relation is neither view-only nor dynamic."""
        methods = ["GET"] if info.allows("GET") else []
        writable = info.allows("PUT") or info.allows("PATCH")
        if writable and not relation.read_only and not relation.is_dynamic:
            methods.append("PUT")
        return methods

    # -- operations -----------------------------------------------------------------------------
    def index_operation(self) -> dict[str, Any]:
        return {
            "tags": ["index"],
            "operationId": "index",
            "summary": "Every collection and endpoint of the API",
            "responses": {
                "200": {
                    "description": "The index.",
                    "content": {JSON_MEDIA_TYPE: {"schema": _ref("schemas", "Index")}},
                },
                **self.errors("403"),
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
        name = self.names[info.collection]
        return {
            "tags": [tag or info.collection],
            "operationId": operation_id,
            "summary": summary,
            "parameters": [
                *extra,
                *self.filter_parameters(info),
                *self.group_parameters(info),
                self.sort_parameter(info),
                _ref("parameters", "limit"),
                _ref("parameters", "offset"),
                _ref("parameters", "after"),
                _ref("parameters", "count"),
                *self.selection_parameters(info),
                _ref("parameters", "IfNoneMatch"),
            ],
            "responses": {
                "200": {
                    "description": "A page, in the envelope.",
                    "headers": {
                        "ETag": _ref("headers", "ETag"),
                        "Link": _ref("headers", "Link"),
                    },
                    "content": {JSON_MEDIA_TYPE: {"schema": _ref("schemas", f"{name}List")}},
                },
                "304": _ref("responses", "NotModified"),
                **self.errors("400", "403", *(("404",) if not_found else ())),
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
        name = self.names[info.collection]
        return {
            "tags": [tag or info.collection],
            "operationId": operation_id,
            "summary": summary,
            "parameters": [*parameters, _ref("parameters", "IfNoneMatch")],
            "responses": {
                "200": self.entity_response(name, f"The {info.name}."),
                "304": _ref("responses", "NotModified"),
                **self.errors("400", "403", "404"),
            },
        }

    def entity_response(self, name: str, description: str) -> dict[str, Any]:
        return {
            "description": description,
            "headers": {"ETag": _ref("headers", "ETag")},
            "content": {JSON_MEDIA_TYPE: {"schema": _ref("schemas", name)}},
        }

    def request_body(self, schema_name: str) -> dict[str, Any]:
        return {
            "required": True,
            "content": {JSON_MEDIA_TYPE: {"schema": _ref("schemas", schema_name)}},
        }

    def errors(self, *statuses: str) -> dict[str, Any]:
        names = {
            "400": "BadRequest",
            "403": "Forbidden",
            "404": "NotFound",
            "409": "Conflict",
            "412": "PreconditionFailed",
            "415": "UnsupportedMediaType",
            "422": "UnprocessableContent",
        }
        return {status: _ref("responses", names[status]) for status in statuses}

    # -- query parameters -------------------------------------------------------------------------
    def filter_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        parameters = []
        for field in info.fields.values():
            if field.name in RESERVED_PARAMETERS or field.name.startswith("fields["):
                continue
            operators = _operators_for(field)
            example = _filter_example(field)
            parameters.append(
                {
                    "name": field.name,
                    "in": "query",
                    "description": (
                        f"Filter on {field.name}: a bare value means equality "
                        f"(`{field.name}={example}`), else `<operator>.<value>` with "
                        f"{', '.join(operators)}; `not.` negates (`not.eq.{example}`). "
                        "`in.(a,b)` lists values (quote items holding commas); `is.null`"
                        + (", `is.true`, `is.false`" if field.json_type == "boolean" else "")
                        + (
                            "; `like`/`ilike` take `*` as the wildcard"
                            if "like" in operators
                            else ""
                        )
                        + ". Repeat the parameter to combine conditions (and)."
                    ),
                    "schema": (
                        {"type": "string", "pattern": NO_NUL}
                        if field.sortable
                        else {"type": "string", "enum": ["is.null", "not.is.null"]}
                    ),
                    "examples": (
                        {
                            "equal": {"value": example},
                            "negated": {"value": f"not.eq.{example}"},
                        }
                        if field.sortable
                        else {"null": {"value": "is.null"}, "negated": {"value": "not.is.null"}}
                    ),
                }
            )
        return parameters

    def group_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        names = [f for f in info.fields if f not in RESERVED_PARAMETERS]
        example = names[0] if names else "field"
        groups = []
        for name, text in (
            ("or", "any of the conditions holds"),
            ("and", "all of the conditions hold"),
            ("not.or", "none of the conditions holds"),
            ("not.and", "not all of the conditions hold"),
        ):
            groups.append(
                {
                    "name": name,
                    "in": "query",
                    "description": (
                        f"Rows where {text}: `({example}.eq.1,{example}.is.null)`, each "
                        "condition `<field>.<operator>.<value>`; groups nest as `and(...)` / "
                        f"`or(...)`. Fields: {', '.join(names) or 'none'}."
                    ),
                    "schema": {"type": "string"},
                }
            )
        return groups

    def sort_parameter(self, info: ModelInfo) -> dict[str, Any]:
        sortable = [name for name, field in info.fields.items() if field.sortable]
        return {
            "name": "sort",
            "in": "query",
            "description": (
                "Comma-separated fields, `-` for descending (`sort=-"
                f"{sortable[0] if sortable else 'field'}`); the key breaks ties. Sortable: "
                f"{', '.join(sortable) or 'none'}."
            ),
            **_comma_list([i for name in sortable for i in (name, f"-{name}")], unique=True),
        }

    def item_query_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        assert set(ITEM_PARAMETERS) == {"fields", "include", "depth"}
        return self.selection_parameters(info)

    def selection_parameters(self, info: ModelInfo) -> list[dict[str, Any]]:
        """`fields`, `fields[<type>]` for each type an include can reach, `include`, `depth`."""
        parameters: list[dict[str, Any]] = [
            {
                "name": "fields",
                "in": "query",
                "description": "Comma-separated fields and properties to show (the key is "
                f"always shown): {', '.join(info.attributes) or 'none'}.",
                **_comma_list(info.attributes, min_items=0),
            }
        ]
        for target in self.reachable(info):
            if target.collection == info.collection:
                continue
            parameters.append(
                {
                    "name": f"fields[{target.collection}]",
                    "in": "query",
                    "description": f"Fields shown for included {target.collection}: "
                    f"{', '.join(target.attributes) or 'none'}.",
                    **_comma_list(target.attributes, min_items=0),
                }
            )
        paths = self.include_paths(info)
        parameters.append(
            {
                "name": "include",
                "in": "query",
                "description": "Comma-separated relation paths to nest (at most "
                f"{self.options.max_depth} levels), e.g. "
                + (f"`{paths[0]}`" if paths else "none")
                + ". Give `include` or `depth`."
                + (f" Paths: {', '.join(paths[:30])}." if paths else ""),
                # no relation: only an empty include
                **(_comma_list(paths) if paths else {"schema": {"type": "string", "enum": [""]}}),
            }
        )
        parameters.append(_ref("parameters", "depth"))
        return parameters

    def reachable(self, info: ModelInfo) -> list[ModelInfo]:
        """Models an include of at most `max_depth` levels can bring into a response."""
        found = {info.collection: info}
        frontier = [info]
        for _ in range(self.options.max_depth):
            following = []
            for current in frontier:
                for relation in current.relations.values():
                    target = self.info_for(relation.target)
                    if target is not None and target.collection not in found:
                        found[target.collection] = target
                        following.append(target)
            frontier = following
        return list(found.values())

    def include_paths(self, info: ModelInfo, limit: int = 60) -> list[str]:
        paths: list[str] = []
        frontier: list[tuple[str, ModelInfo]] = [("", info)]
        for _ in range(self.options.max_depth):
            following = []
            for prefix, current in frontier:
                for name, relation in current.relations.items():
                    target = self.info_for(relation.target)
                    if target is None or relation.is_dynamic:
                        continue
                    path = f"{prefix}{name}"
                    paths.append(path)
                    following.append((path + ".", target))
                    if len(paths) >= limit:
                        return paths
            frontier = following
        return paths


# -- helpers --------------------------------------------------------------------------------------
def replace_nullable(field: FieldInfo) -> FieldInfo:
    """The field as a key part: never null."""
    from dataclasses import replace

    return replace(field, nullable=False) if field.nullable else field


def _comma_list(items: list[str], min_items: int = 1, unique: bool = False) -> dict[str, Any]:
    """A comma-separated query value (`fields=id,name`): a form-style, unexploded array."""
    schema: dict[str, Any] = {"type": "array", "minItems": min_items}
    if unique:  # a repeated item is refused (sort), not merely harmless (fields, include)
        schema["uniqueItems"] = True
    schema["items"] = {"type": "string", "enum": list(items)} if items else {"type": "string"}
    return {"style": "form", "explode": False, "schema": schema}


def _decimal_pattern(whole: int) -> str:
    """A decimal string with at most `whole` digits before the point (leading zeros aside)."""
    if whole <= 0:
        return r"^-?(0+(\.\d+)?|0*\.\d+)$"
    return rf"^-?(0*\d{{1,{whole}}}(\.\d+)?|\.\d+)$"


def _path_safe(schema: dict[str, Any]) -> dict[str, Any]:
    """A path parameter's schema: strings are never empty (an empty segment is another URL)."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [_path_safe(s) for s in schema["anyOf"]]}
    if schema.get("type") == "string" and "enum" not in schema:
        return {"minLength": 1, **schema}
    return schema


def _is_timezone_aware(info: ModelInfo, field: FieldInfo) -> bool:
    mapper: Mapper[Any] | None = info.mapper  # None for a ModelInfo built by hand
    if mapper is None:
        return False
    try:
        column = mapper.get_property(field.name).columns[0]
    except Exception:  # not a plain column property: assume naive
        return False
    column_type = getattr(column, "type", None)
    impl = getattr(column_type, "impl_instance", column_type)
    return bool(getattr(impl, "timezone", False))


def _operators_for(field: FieldInfo) -> list[str]:
    if not field.sortable:  # JSON, arrays: only `is.null` / `not.is.null`
        return ["`is`"]
    operators: Iterable[str] = OPERATORS
    if field.json_type != "string" or field.format is not None or field.enum:
        operators = [op for op in OPERATORS if op not in ("like", "ilike")]
    return [f"`{op}`" for op in operators]


def _filter_example(field: FieldInfo) -> str:
    if field.enum:
        return str(field.enum[0])
    return {
        "integer": "3",
        "number": "1.5",
        "boolean": "true",
    }.get(
        field.json_type,
        {
            "date-time": "2024-05-01T12:00:00",
            "date": "2024-05-01",
            "time": "12:00:00",
            "uuid": "00000000-0000-0000-0000-000000000000",
            "decimal": "1.50",
        }.get(field.format or "", "text"),
    )
