"""SQL column types and Python annotations → JSON Schema types: (json_type, format, ...).

One table for the whole API: model_info.py describes columns and properties with it, so the
query parser, the body validator, the serializers and the OpenAPI document agree on what a
field holds. `format` refines `string` (`date-time`, `date`, `time`, `uuid`, `decimal`, `byte`)
or `number` (`duration`, seconds); `any` is a value of any JSON type.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import inspect as pyinspect
import types
import typing
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


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


def describe_type(
    type_: Any,
) -> tuple[str, str | None, str | None, tuple[Any, ...] | None, int | None, type | None]:
    """(json_type, format, items_type, enum values, max length, python type) of a SQL type."""
    if isinstance(type_, sa.Interval):
        # before the TypeDecorator unwrap: Interval decorates DateTime (its impl where the
        # database has no interval type) yet holds a timedelta, which flasker.json writes as
        # seconds and _coerce reads back from a number
        return "number", "duration", None, None, None, datetime.timedelta
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
    return (*describe_python(python_type)[:3], None, None, python_type)


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


def describe_python(annotation: Any) -> tuple[str, str | None, str | None, bool]:
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
                items = describe_python(args[0])[0]
            return json_type, fmt, items, nullable
    return "any", None, None, True
