"""The schemas of one model: what responses show, its key, and the bodies each write sends.

One `ModelSchemas` per document (openapi.py): `House` (columns with their JSON types, formats,
lengths, ranges and enums, `type: [..., "null"]` for nullable ones, read-only properties,
relations as nested objects or keys), `HouseKey`, `HouseList`, and the request bodies
`HouseCreate` (POST), `HouseReplace` (PUT) and `HouseUpdate` (PATCH)::

    schemas = ModelSchemas(context).model_schemas(info)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._jsonschema import (
    KEY_TEXT,
    KEY_TEXT_PART,
    NO_NUL,
    decimal_pattern,
    json_type_schema,
    nullable,
    ref,
    replace_nullable,
    with_description,
)
from .body_rules import covering_relations, is_required, is_writable
from .openapi_context import model_description

if TYPE_CHECKING:
    from sqlalchemy.orm import Mapper

    from .model_info import FieldInfo, ModelInfo, PropertyInfo, RelationInfo
    from .openapi_context import DocumentContext


class ModelSchemas:
    """Writes the component schemas of the models of one document."""

    def __init__(self, context: DocumentContext) -> None:
        self.context = context

    def model_schemas(self, info: ModelInfo) -> dict[str, Any]:
        name = self.context.names[info.collection]
        schemas = {
            name: self.entity_schema(info),
            f"{name}Key": self.key_schema(info),
            f"{name}List": {
                "type": "object",
                "description": f"A page of {info.collection}.",
                "required": ["data", "meta"],
                "properties": {
                    "data": {"type": "array", "items": ref("schemas", name)},
                    "meta": ref("schemas", "ListMeta"),
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
                f"{model_description(info)} Relations appear when included (`include=` "
                "or `depth=`): an entity in full, or its key when the response already shows "
                "it. `fields=` keeps only the fields named (the key always stays)."
            ),
            "required": list(info.primary_key),
            "properties": properties,
        }
        return schema

    def field_schema(self, info: ModelInfo, field: FieldInfo, *, response: bool) -> dict[str, Any]:
        """A column's value; `response=False` describes what a request body may carry."""
        schema = json_type_schema(field.json_type, field.items_type)
        notes = [field.description]
        fmt = field.format
        if fmt == "date-time" and response and not is_timezone_aware(info, field):
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
                schema["pattern"] = decimal_pattern(whole)
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
            schema = nullable(schema)
        return with_description(schema, description or None)

    def property_schema(self, prop: PropertyInfo) -> dict[str, Any]:
        schema = json_type_schema(prop.json_type, prop.items_type)
        if prop.format is not None and prop.format != "duration":
            schema["format"] = prop.format
        if prop.nullable:
            schema = nullable(schema)
        schema["readOnly"] = True
        note = "Computed (read-only)."
        return {**schema, "description": f"{prop.description} {note}" if prop.description else note}

    def relation_schema(self, relation: RelationInfo) -> dict[str, Any]:
        target = self.context.target(relation)
        name = self.context.names[target.collection]
        entity = {"anyOf": [ref("schemas", name), ref("schemas", f"{name}Key")]}
        if relation.uselist:
            schema: dict[str, Any] = {"type": "array", "items": entity}
        else:
            schema = {"anyOf": [*entity["anyOf"], {"type": "null"}]}
        verb = "Relation" if is_writable(relation) else "Read-only relation"
        text = f"{verb} to {target.collection}; present only when included."
        if relation.description:
            text = f"{relation.description} {text}"
        return {**schema, "description": text}

    def key_schema(self, info: ModelInfo) -> dict[str, Any]:
        """How a response shows an entity already shown, and how a body names one."""
        parts = [self.key_part_schema(info, info.fields[name]) for name in info.primary_key]
        if len(parts) == 1:
            return with_description(parts[0], f"The key of a {info.name} ({info.primary_key[0]}).")
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
                schema = nullable(schema)  # null means "use the default"
            if field.primary_key and mode != "create":
                schema = with_description(
                    schema, "The key cannot change: when given, it must be the entity's own."
                )
            properties[field.name] = schema
        for relation in info.relations.values():
            if not is_writable(relation):
                continue
            target = self.context.target(relation)
            properties[relation.name] = self.relation_body_schema(info, relation, target)
        required: list[str] = []
        alternatives: list[dict[str, Any]] = []
        for field in info.fields.values():
            if not is_required(field, mode):
                continue
            covering = covering_relations(info, field.name)
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
        name = self.context.names[target.collection]
        key_object = {
            "type": "object",
            "required": list(target.primary_key),
            "properties": {
                n: self.key_part_schema(target, target.fields[n]) for n in target.primary_key
            },
        }
        one = {"anyOf": [ref("schemas", f"{name}Key"), key_object]}
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


def is_timezone_aware(info: ModelInfo, field: FieldInfo) -> bool:
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
