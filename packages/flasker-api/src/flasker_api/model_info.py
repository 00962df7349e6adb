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
`decimal`, `byte`) or `number` (`duration`, seconds).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect as pyinspect
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipDirection, RelationshipProperty

#: Every method an endpoint may allow, in the order the index lists them.
ALL_METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE")

#: Attribute set on a property's getter by `api_property` (the manager-independent marker).
PROPERTY_MARK = "__flasker_api_property__"


@dataclass(frozen=True)
class PropertyOptions:
    """What `@api.property(...)` declared about a read-only property."""

    loads: tuple[str, ...] = ()
    description: str | None = None
    #: The property is the number of related entities of this to-many relation, counted by
    #: the database (no entity is loaded).
    count: str | None = None
    #: `() -> SQL expression` correlated to the model's table (a scalar subquery or a column
    #: expression): the database computes the property, in the query that reads the row.
    expression: Callable[[], Any] | None = None


def api_property(
    loads: Iterable[str] = (),
    description: str | None = None,
    *,
    count: str | None = None,
    expression: Callable[[], Any] | None = None,
) -> Callable[[Any], Any]:
    """Mark a read-only property's getter: the relations it reads (loaded once per page), or
    how the database computes it (`count=` a to-many relation, or an SQL `expression=`).

    Use under `@property` (or over it); `APIManager.property` is the same decorator::

        @property
        @api_property(loads=["cats"])  # Python computes it: one extra query per page
        def cat_count(self) -> int:
            return len(self.cats)

        @property
        @api_property(count="cats")  # SQL computes it, in the query that reads the house
        def cat_total(self) -> int:
            return len(self.cats)  # what Python code outside the API sees
    """
    loads = tuple(loads)
    if sum(map(bool, (loads, count, expression))) > 1:
        raise ValueError("give one of loads=, count= or expression=, not several")
    options = PropertyOptions(loads, description, count, expression)

    def mark(target: Any) -> Any:
        function = target.fget if isinstance(target, property) else target
        setattr(function, PROPERTY_MARK, options)
        return target

    return mark


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
class PropertyInfo:
    """A read-only Python `@property` of the model, shown in responses."""

    name: str
    loads: tuple[str, ...] = ()
    json_type: str = "any"
    format: str | None = None
    items_type: str | None = None
    nullable: bool = True
    #: The return annotation as written (a type or a string), None when absent.
    annotation: Any = None
    description: str | None = None
    #: `count=`: the to-many relation whose entities the database counts.
    count: str | None = None
    #: `expression=`: builds the SQL expression (correlated to the model's table).
    expression: Callable[[], Any] | None = field(default=None, compare=False, repr=False)

    @property
    def in_sql(self) -> bool:
        """Computed by the database (`count=` / `expression=`), not by Python."""
        return self.count is not None or self.expression is not None


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
    properties = _properties(model, excluded, set(fields) | set(mapper.relationships.keys()))
    for name, getter, options in extra_properties:
        if name not in excluded:
            properties[name] = _property_info(name, getter, options)
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
        description=_doc(model),
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


def integer_range(type_: Any) -> tuple[int | None, int | None]:
    """Bounds of an integer SQL type (`Integer` is 32 bits on PostgreSQL and most databases)."""
    if isinstance(type_, sa.types.TypeDecorator):
        type_ = type_.impl_instance
    if isinstance(type_, sa.Enum):
        return None, None
    if isinstance(type_, sa.SmallInteger):
        bits = 16
    elif isinstance(type_, sa.BigInteger):
        bits = 64
    elif isinstance(type_, sa.Integer):
        bits = 32
    else:
        return None, None
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


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


def describe_type(
    type_: Any,
) -> tuple[str, str | None, str | None, tuple[Any, ...] | None, int | None, type | None]:
    """(json_type, format, items_type, enum values, max length, python type) of a SQL type."""
    if isinstance(type_, sa.types.TypeDecorator):
        inner = describe_type(type_.impl_instance)
        try:
            python_type: type | None = type_.python_type
        except NotImplementedError:
            python_type = inner[5]
        return (*inner[:5], python_type)
    if isinstance(type_, sa.Enum):
        if type_.enum_class is not None:
            values = tuple(member.value for member in type_.enum_class)
            kinds = {type(v) for v in values}
            json_type = "integer" if kinds == {int} else "string"
            return json_type, None, None, values, None, type_.enum_class
        return "string", None, None, tuple(type_.enums), type_.length, str
    if isinstance(type_, sa.Boolean):
        return "boolean", None, None, None, None, bool
    if isinstance(type_, sa.Integer):
        return "integer", None, None, None, None, int
    if isinstance(type_, sa.Numeric):
        if type_.asdecimal and not isinstance(type_, sa.Float):
            return "string", "decimal", None, None, None, decimal.Decimal
        return "number", None, None, None, None, float
    if isinstance(type_, sa.DateTime):
        return "string", "date-time", None, None, None, datetime.datetime
    if isinstance(type_, sa.Date):
        return "string", "date", None, None, None, datetime.date
    if isinstance(type_, sa.Time):
        return "string", "time", None, None, None, datetime.time
    if isinstance(type_, sa.Interval):
        return "number", "duration", None, None, None, datetime.timedelta
    if isinstance(type_, sa.Uuid):
        return "string", "uuid", None, None, None, uuid.UUID if type_.as_uuid else str
    if isinstance(type_, sa.ARRAY):
        items = describe_type(type_.item_type)[0]
        return "array", None, items, None, None, list
    if isinstance(type_, sa.JSON):
        return "any", None, None, None, None, None
    if isinstance(type_, sa.String):  # Text, Unicode, UnicodeText, Enum handled above
        return "string", None, None, None, type_.length, str
    if isinstance(type_, sa.LargeBinary | sa.types._Binary):
        return "string", "byte", None, None, getattr(type_, "length", None), bytes
    try:
        python_type = type_.python_type
    except (NotImplementedError, AttributeError):
        return "any", None, None, None, None, None
    return (*_describe_python(python_type)[:3], None, None, python_type)


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


# -- properties -----------------------------------------------------------------------------------
def _properties(model: type, excluded: set[str], taken: set[str]) -> dict[str, PropertyInfo]:
    """Public `@property`s of the model and its mapped bases (not of `Model` itself)."""
    from flasker.model import Model

    base_names = {name for klass in Model.__mro__ for name in vars(klass)}
    found: dict[str, PropertyInfo] = {}
    for klass in reversed(model.__mro__):
        if klass is object or klass in Model.__mro__:
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in excluded or name in taken or name in base_names:
                continue
            if isinstance(value, property) and value.fget is not None and value.fset is None:
                options = getattr(value.fget, PROPERTY_MARK, PropertyOptions())
                found[name] = _property_info(name, value.fget, options)
            else:
                found.pop(name, None)  # a subclass replaced it with something else
    return found


def _property_info(name: str, getter: Callable[..., Any], options: PropertyOptions) -> PropertyInfo:
    annotation = _return_annotation(getter)
    json_type, fmt, items, nullable = "any", None, None, True
    if options.count is not None:
        json_type, nullable = "integer", False
    elif annotation is not None:
        json_type, fmt, items, nullable = _describe_python(annotation)
    elif options.expression is not None:
        json_type, fmt, items = _expression_type(options.expression)
    return PropertyInfo(
        name=name,
        loads=options.loads,
        json_type=json_type,
        format=fmt,
        items_type=items,
        nullable=nullable,
        annotation=annotation,
        description=options.description or _doc(getter),
        count=options.count,
        expression=options.expression,
    )


def _expression_type(expression: Callable[[], Any]) -> tuple[str, str | None, str | None]:
    """JSON type of an unannotated `expression=` property, from its SQL type."""
    try:
        sql_type = expression().type
    except Exception:
        return "any", None, None
    if isinstance(sql_type, sa.types.NullType):
        return "any", None, None
    return describe_type(sql_type)[:3]


def _return_annotation(getter: Callable[..., Any]) -> Any:
    try:
        hints = typing.get_type_hints(getter)
    except Exception:
        hints = getattr(getter, "__annotations__", {})
    return hints.get("return")


_PYTHON_TYPES: dict[type, tuple[str, str | None]] = {
    bool: ("boolean", None),
    int: ("integer", None),
    float: ("number", None),
    str: ("string", None),
    bytes: ("string", "byte"),
    datetime.datetime: ("string", "date-time"),
    datetime.date: ("string", "date"),
    datetime.time: ("string", "time"),
    datetime.timedelta: ("number", "duration"),
    decimal.Decimal: ("string", "decimal"),
    uuid.UUID: ("string", "uuid"),
    list: ("array", None),
    tuple: ("array", None),
    set: ("array", None),
    frozenset: ("array", None),
    dict: ("object", None),
}


def _describe_python(annotation: Any) -> tuple[str, str | None, str | None, bool]:
    """(json_type, format, items_type, nullable) of a Python annotation."""
    if isinstance(annotation, str):
        return "any", None, None, True
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args: Sequence[Any] = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return "any", None, None, True
        annotation = args[0]
        origin = typing.get_origin(annotation)
    base = origin or annotation
    if pyinspect.isclass(base) and issubclass(base, enum.Enum):
        values = {type(m.value) for m in base}
        return ("integer" if values == {int} else "string"), None, None, nullable
    for python_type, (json_type, fmt) in _PYTHON_TYPES.items():
        if pyinspect.isclass(base) and issubclass(base, python_type):
            items = None
            if json_type == "array" and (args := typing.get_args(annotation)):
                items = _describe_python(args[0])[0]
            return json_type, fmt, items, nullable
    return "any", None, None, True


def _doc(thing: Any) -> str | None:
    doc = thing.__doc__  # not getdoc: a model without a docstring must not show Model's
    if not doc or not isinstance(doc, str):
        return None
    return pyinspect.cleandoc(doc).split("\n\n")[0].replace("\n", " ")
