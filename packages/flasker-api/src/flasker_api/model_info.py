"""What the API knows about a model, read once from SQLAlchemy's mapper.

Everything downstream (query parsing, statements, serializers, the OpenAPI document, the
console's endpoint inspector) reads these frozen dataclasses instead of the mapper, so
introspection happens once per model at start-up and never per request::

    info = build_model_info(House)
    info.collection              # "houses" (the table name)
    info.primary_key             # ("id",)
    info.fields["address"]       # FieldInfo(json_type="string", max_length=128, ...)
    info.relations["cats"]       # RelationInfo(target=Cat, uselist=True, ...)
    info.properties["cat_count"] # PropertyInfo(loads=("cats",), json_type="integer")

JSON types are JSON Schema's (`integer`, `number`, `string`, `boolean`, `object`, `array`) plus
`any` for a column that may hold any JSON value (a `JSON` column, a pickled value, an
unannotated property). `format` refines `string` (`date-time`, `date`, `time`, `uuid`,
`decimal`, `byte`) or `number` (`duration`, seconds): json_types.py maps the types, and
properties.py finds the properties (and holds `api_property`, re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipDirection, RelationshipProperty

from ._docstring import summary
from .json_types import describe_type, integer_range
from .properties import (
    PROPERTY_MARK,
    PropertyInfo,
    PropertyOptions,
    api_property,
    find_properties,
    property_info,
)

__all__ = [
    "ALL_METHODS",
    "PROPERTY_MARK",
    "FieldInfo",
    "ModelInfo",
    "PropertyInfo",
    "PropertyOptions",
    "RelationInfo",
    "api_property",
    "build_model_info",
    "collection_name",
    "describe_type",
    "integer_range",
]

#: Every method an endpoint may allow, in the order the index lists them.
ALL_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class FieldInfo:
    """A mapped column, as a client sees it."""

    #: Attribute name (the JSON key), which may differ from the column name.
    name: str
    column_name: str
    json_type: str
    format: str | None = None
    #: JSON type of the items of an `array` field (PostgreSQL ARRAY), else None.
    items_type: str | None = None
    nullable: bool = True
    primary_key: bool = False
    unique: bool = False
    #: The database (or SQLAlchemy) fills it when omitted: a default, a server default, an
    #: autoincrementing integer key.
    has_default: bool = False
    #: An autoincrementing integer primary key: clients may omit it on POST.
    autoincrement: bool = False
    enum: tuple[Any, ...] | None = None
    max_length: int | None = None
    #: Range of an `integer` field, from its SQL type (SmallInteger, Integer, BigInteger), so
    #: a value the database cannot store is refused before it reaches the database.
    minimum: int | None = None
    maximum: int | None = None
    #: Digits of a `decimal` field (`Numeric(8, 2)`: precision 8, scale 2), when declared.
    precision: int | None = None
    scale: int | None = None
    python_type: type | None = None
    sql_type: str = ""
    description: str | None = None
    #: Part of a foreign key (the relation's key columns, e.g. `house_id`).
    foreign_key: bool = False
    #: A `date-time` column that stores an offset (`DateTime(timezone=True)`); naive ones hold
    #: UTC wall time, so an offset sent by a client is converted to UTC and dropped.
    timezone: bool = False

    @property
    def required(self) -> bool:
        """Must a POST body give it?"""
        return not self.nullable and not self.has_default

    @property
    def sortable(self) -> bool:
        return self.json_type not in ("object", "array", "any")


@dataclass(frozen=True)
class RelationInfo:
    """A relationship from one model to another."""

    name: str
    target: type
    #: The target's collection name (its table name).
    target_collection: str
    #: A list of targets (one-to-many, many-to-many) or a single one (many-to-one, one-to-one).
    uselist: bool
    direction: str  # "one_to_many" | "many_to_one" | "many_to_many"
    #: Attribute names of this model's foreign-key columns, for many-to-one relations.
    local_fields: tuple[str, ...] = ()
    #: `viewonly=True` relations can be read, never written.
    read_only: bool = False
    #: `lazy="dynamic"` / `"write_only"` relations cannot be eagerly loaded (only their endpoint
    #: reads them).
    is_dynamic: bool = False
    description: str | None = None


@dataclass(frozen=True)
class ModelInfo:
    """One model, as the API exposes it (built once by `build_model_info`)."""

    model: type
    #: Collection name: the table name (`House` → `houses`), the URL segment.
    collection: str
    fields: dict[str, FieldInfo]
    #: Primary-key attribute names, in key order (`/api/coll/k1,k2`).
    primary_key: tuple[str, ...]
    #: Single unique columns (besides the key) a client may use in place of the key.
    lookups: tuple[str, ...]
    relations: dict[str, RelationInfo]
    properties: dict[str, PropertyInfo]
    methods: frozenset[str] = frozenset(ALL_METHODS)
    #: Methods allowed on relation endpoints: GET, and PUT when the model allows writes.
    description: str | None = None
    # Always given by model_info(); the None default only keeps the field last and optional.
    mapper: Mapper[Any] = field(repr=False, compare=False, default=None)  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return self.model.__name__

    @property
    def is_composite(self) -> bool:
        return len(self.primary_key) > 1

    @property
    def attributes(self) -> list[str]:
        """Every name `fields=` accepts: columns then properties."""
        return [*self.fields, *self.properties]

    def allows(self, method: str) -> bool:
        return method in self.methods

    @property
    def sorted_methods(self) -> list[str]:
        return [m for m in ALL_METHODS if m in self.methods]


# -- building ------------------------------------------------------------------------------------
def build_model_info(
    model: type,
    *,
    collection: str | None = None,
    methods: Iterable[str] = ALL_METHODS,
    relationships: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    extra_properties: Sequence[tuple[str, Callable[..., Any], PropertyOptions]] = (),
) -> ModelInfo:
    """Introspect a mapped class. `relationships=None` exposes every relation; `exclude` hides
    columns, relations and properties by attribute name (a hidden column can still not be
    written by clients)."""
    mapper: Mapper[Any] = inspect(model)
    excluded = set(exclude)
    fields = {
        prop.key: _field_info(prop)
        for prop in mapper.column_attrs
        if prop.key not in excluded and len(prop.columns) == 1 and _is_table_column(prop)
    }
    primary_key = tuple(mapper.get_property_by_column(col).key for col in mapper.primary_key)
    lookups = tuple(
        f.name for f in fields.values() if f.unique and not f.primary_key and f.sortable
    )
    wanted = None if relationships is None else set(relationships)
    relations = {
        rel.key: _relation_info(rel)
        for rel in mapper.relationships
        if rel.key not in excluded and (wanted is None or rel.key in wanted)
    }
    if wanted is not None and (missing := wanted - set(mapper.relationships.keys())):
        raise ValueError(f"{model.__name__} has no relationship {', '.join(sorted(missing))}")
    properties = find_properties(model, excluded, set(fields) | set(mapper.relationships.keys()))
    for name, getter, options in extra_properties:
        if name not in excluded:
            properties[name] = property_info(name, getter, options)
    for prop in properties.values():
        if prop.count is not None:
            counted = mapper.relationships.get(prop.count)
            if counted is None or not counted.uselist:
                raise ValueError(
                    f"{model.__name__}.{prop.name} declares count={prop.count!r}, but "
                    f"{model.__name__} has no to-many relationship {prop.count!r}"
                )
        for load in prop.loads:
            if load.split(".")[0] not in mapper.relationships:
                raise ValueError(
                    f"{model.__name__}.{prop.name} declares loads={list(prop.loads)!r}, "
                    f"but {model.__name__} has no relationship {load.split('.')[0]!r}"
                )
    return ModelInfo(
        model=model,
        collection=collection or collection_name(model),
        fields=fields,
        primary_key=primary_key,
        lookups=lookups,
        relations=relations,
        properties=properties,
        methods=frozenset(m.upper() for m in methods),
        description=summary(model),
        mapper=mapper,
    )


def collection_name(model: type) -> str:
    """The table name; a single-table-inheritance subclass gets its own name from its class."""
    mapper: Mapper[Any] = inspect(model)
    if mapper.inherits is not None and mapper.local_table is mapper.inherits.local_table:
        from flasker.model import table_name

        return table_name(model.__name__)
    table = mapper.local_table
    return str(getattr(table, "name", model.__name__.lower()))


def _is_table_column(prop: ColumnProperty[Any]) -> bool:
    """Plain table columns only: `column_property(select ...)` expressions are skipped."""
    return isinstance(prop.columns[0], sa.Column)


def _field_info(prop: ColumnProperty[Any]) -> FieldInfo:
    column: sa.Column[Any] = prop.columns[0]  # type: ignore[assignment]
    json_type, fmt, items, enum_values, max_length, python_type = describe_type(column.type)
    autoincrement = bool(
        column.primary_key
        and json_type == "integer"
        and column.autoincrement in (True, "auto")
        and len(column.table.primary_key.columns) == 1
        and not column.foreign_keys
    )
    has_default = bool(
        autoincrement
        or column.default is not None
        or column.server_default is not None
        or column.identity is not None
        or column.computed is not None
    )
    unique = bool(column.unique) or _unique_by_constraint(column)
    minimum, maximum = integer_range(column.type) if json_type == "integer" else (None, None)
    return FieldInfo(
        name=prop.key,
        column_name=column.name,
        json_type=json_type,
        format=fmt,
        items_type=items,
        nullable=bool(column.nullable) and not column.primary_key,
        primary_key=bool(column.primary_key),
        unique=unique or bool(column.primary_key),
        has_default=has_default,
        autoincrement=autoincrement,
        enum=enum_values,
        max_length=max_length,
        minimum=minimum,
        maximum=maximum,
        precision=getattr(column.type, "precision", None) if fmt == "decimal" else None,
        scale=getattr(column.type, "scale", None) if fmt == "decimal" else None,
        python_type=python_type,
        sql_type=_type_name(column.type),
        description=column.doc or column.comment,
        foreign_key=bool(column.foreign_keys),
        timezone=bool(getattr(column.type, "timezone", False)) and fmt == "date-time",
    )


def _unique_by_constraint(column: sa.Column[Any]) -> bool:
    table = column.table
    for constraint in getattr(table, "constraints", ()):
        if isinstance(constraint, sa.UniqueConstraint) and list(constraint.columns) == [column]:
            return True
    for index in getattr(table, "indexes", ()):
        if index.unique and list(index.columns) == [column]:
            return True
    return False


def _type_name(type_: Any) -> str:
    try:
        return str(type_.compile())
    except Exception:
        return type(type_).__name__


def _relation_info(rel: RelationshipProperty[Any]) -> RelationInfo:
    target = rel.mapper.class_
    direction = {
        RelationshipDirection.ONETOMANY: "one_to_many",
        RelationshipDirection.MANYTOONE: "many_to_one",
        RelationshipDirection.MANYTOMANY: "many_to_many",
    }[rel.direction]
    local_fields: tuple[str, ...] = ()
    if rel.direction is RelationshipDirection.MANYTOONE:
        parent = rel.parent
        local_fields = tuple(
            parent.get_property_by_column(col).key
            for col, _remote in rel.local_remote_pairs or ()
            if col in parent.columns.values()
        )
    return RelationInfo(
        name=rel.key,
        target=target,
        target_collection=collection_name(target),
        uselist=bool(rel.uselist),
        direction=direction,
        local_fields=local_fields,
        read_only=bool(rel.viewonly),
        is_dynamic=rel.lazy in ("dynamic", "write_only", "noload", "raise"),
        description=rel.doc,
    )
