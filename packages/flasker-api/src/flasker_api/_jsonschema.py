"""Small JSON Schema pieces the OpenAPI document is made of, and the patterns it shares.

Pure functions over dicts (no manager, no model), so each part of the document (components,
model schemas, parameters, paths) builds with the same vocabulary::

    nullable({"type": "string"})             # {"type": ["string", "null"]}
    ref("schemas", "House")                  # {"$ref": "#/components/schemas/House"}
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model_info import FieldInfo

JSON_MEDIA_TYPE = "application/json"
#: Text without NUL characters, which the API refuses in every text value.
NO_NUL = "^[^\\x00]*$"
#: A text key a URL can name: not empty, `.` nor `..`, no `/` (nor NUL); KEY_TEXT_PART for a
#: part of a composite key also has no `,`.
KEY_TEXT = r"^(?:[^\x00/.][^\x00/]*|\.[^\x00/.][^\x00/]*|\.\.[^\x00/]+)$"
KEY_TEXT_PART = r"^(?:[^\x00/.,][^\x00/,]*|\.[^\x00/.,][^\x00/,]*|\.\.[^\x00/,]+)$"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
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


def json_type_schema(json_type: str, items_type: str | None = None) -> dict[str, Any]:
    if json_type == "any":
        return {}
    schema: dict[str, Any] = {"type": json_type}
    if json_type == "array":
        schema["items"] = json_type_schema(items_type or "any")
    return schema


def with_description(schema: dict[str, Any], description: str | None) -> dict[str, Any]:
    if not description:
        return schema
    if "$ref" in schema:  # siblings of $ref are allowed in 3.1, but keep refs plain
        return {"allOf": [schema], "description": description}
    return {**schema, "description": description}


def component_name(text: str) -> str:
    """A name allowed in `components` (`^[a-zA-Z0-9._-]+$`)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def camel(collection: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", collection))


def replace_nullable(field: FieldInfo) -> FieldInfo:
    """The field as a key part: never null."""
    return replace(field, nullable=False) if field.nullable else field


def comma_list(items: list[str], min_items: int = 1, unique: bool = False) -> dict[str, Any]:
    """A comma-separated query value (`fields=id,name`): a form-style, unexploded array."""
    schema: dict[str, Any] = {"type": "array", "minItems": min_items}
    if unique:  # a repeated item is refused (sort), not merely harmless (fields, include)
        schema["uniqueItems"] = True
    schema["items"] = {"type": "string", "enum": list(items)} if items else {"type": "string"}
    return {"style": "form", "explode": False, "schema": schema}


def decimal_pattern(whole: int) -> str:
    """A decimal string with at most `whole` digits before the point (leading zeros aside)."""
    if whole <= 0:
        return r"^-?(0+(\.\d+)?|0*\.\d+)$"
    return rf"^-?(0*\d{{1,{whole}}}(\.\d+)?|\.\d+)$"


def path_safe(schema: dict[str, Any]) -> dict[str, Any]:
    """A path parameter's schema: strings are never empty (an empty segment is another URL)."""
    if "anyOf" in schema:
        return {**schema, "anyOf": [path_safe(s) for s in schema["anyOf"]]}
    if schema.get("type") == "string" and "enum" not in schema:
        return {"minLength": 1, **schema}
    return schema
