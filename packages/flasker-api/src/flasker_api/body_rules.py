"""What a request body must and may carry: the rules that both the views and the document use.

The views (bodies.py) refuse a body that breaks them, and the OpenAPI document (its `…Create`
and `…Replace` schemas) describes the same rules, so both read them from here::

    is_required(field, "create")           # a non-nullable column without a default
    covering_relations(info, "house_id")   # ["house"]: a non-null `house` may stand in for it

`mode` is `create` (POST), `replace` (PUT) or `update` (PATCH).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model_info import FieldInfo, ModelInfo, RelationInfo


def is_writable(relation: RelationInfo) -> bool:
    """Can a body (or the relation's endpoint) set this relation? Not when it is view-only or
    dynamic (its endpoint reads it, nothing loads it whole)."""
    return not relation.read_only and not relation.is_dynamic


def is_required(field: FieldInfo, mode: str) -> bool:
    """Must a `create` or `replace` body give this field (unless a relation covers it)? A PUT
    names the entity in its URL, so its key may be left out."""
    if mode not in ("create", "replace"):
        return False
    return field.required and not (mode == "replace" and field.primary_key)


def covering_relations(info: ModelInfo, field_name: str) -> list[str]:
    """The writable many-to-one relations whose key columns include `field_name`: a body that
    gives one of them (not null) need not give the column (`house` instead of `house_id`)."""
    return [
        relation.name
        for relation in info.relations.values()
        if field_name in relation.local_fields and is_writable(relation)
    ]


def json_pointer(name: str) -> str:
    """The JSON pointer (RFC 6901) to a top-level member of a body: `/address`, `/a~1b`."""
    return "/" + name.replace("~", "~0").replace("/", "~1")


def unaddressable_key(value: Any, composite: bool) -> str | None:
    """Why a text key would name no URL (an empty segment, a `/` that splits the path, `.` or
    `..` that clients resolve away, a `,` that splits a composite key), else None: an entity
    the API creates must be one its item URL can read, change and delete."""
    if not isinstance(value, str):
        return None
    if value in ("", ".", ".."):
        return f"a key cannot be {value!r}: it must name the entity in a URL"
    if "/" in value or (composite and "," in value):
        separators = "'/' or ','" if composite else "'/'"
        return f"a key cannot contain {separators}: it must name the entity in a URL"
    return None
