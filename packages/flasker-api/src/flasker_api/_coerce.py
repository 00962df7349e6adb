"""Client values → Python values of a column, or a message saying what is wrong.

Two entry points, one per source: `from_text` for query-string values (everything is text) and
`from_json` for request bodies (JSON already has numbers, booleans and null). Both refuse what the
database would refuse (an integer out of the column's range, a string longer than its length,
a NUL character), so a bad value is a 400/422 naming the field and never a database error.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import enum
import math
import re
import uuid
from typing import Any

from flasker import _values

from .model_info import FieldInfo

#: Booleans in a query string: the cfg's words, and PostgreSQL's t and f.
TRUE = _values.TRUE_WORDS | {"t"}
FALSE = _values.FALSE_WORDS | {"f"}


class Invalid(ValueError):
    """The value cannot be read as the field's type; the message says what was expected."""


def from_text(field: FieldInfo, text: str) -> Any:
    """A query-string value (`?age=3`, the items of `in.(…)`, cursor values)."""
    kind = field.json_type
    if field.enum is not None:
        return _enum_member(field, text if kind == "string" else _integer(field, text))
    if kind == "integer":
        return _integer(field, text)
    if kind == "number":
        if field.format == "duration":
            return datetime.timedelta(seconds=_number(text))
        return _number(text)
    if kind == "boolean":
        value = _values.boolean_word(text, TRUE, FALSE)
        if value is None:
            raise Invalid(f"expected true or false, got {text!r}")
        return value
    if kind == "string":
        return _string(field, text, check_length=False)
    raise Invalid(f"cannot compare a {kind} field in a query")


def from_json(field: FieldInfo, value: Any) -> Any:
    """A request-body value; None only when the field is nullable (checked by the caller)."""
    kind = field.json_type
    if value is None:
        return None
    if field.enum is not None:
        return _enum_member(field, value)
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"expected an integer, got {_describe(value)}")
        if isinstance(value, float):
            if not value.is_integer():
                raise Invalid(f"expected an integer, got {value!r}")
            value = int(value)
        return _in_range(field, value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"expected a number, got {_describe(value)}")
        if field.format == "duration":
            return datetime.timedelta(seconds=value)
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise Invalid(f"expected true or false, got {_describe(value)}")
        return value
    if kind == "string":
        if (
            field.format == "decimal"
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            value = str(value)
        if not isinstance(value, str):
            raise Invalid(f"expected a string, got {_describe(value)}")
        return _string(field, value, check_length=True)
    if kind == "array":
        if not isinstance(value, list):
            raise Invalid(f"expected an array, got {_describe(value)}")
        return value
    if kind == "object":
        if not isinstance(value, dict):
            raise Invalid(f"expected an object, got {_describe(value)}")
        return value
    return value


def to_json_value(field: FieldInfo, value: Any) -> Any:
    """A column value as JSON would carry it (for cursors): the inverse of `from_json`."""
    if value is None:
        return None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


# -- helpers ---------------------------------------------------------------------------------
#: An optional sign, then ASCII digits; 40 digits is past any SQL integer, and keeps int() cheap.
_INTEGER = re.compile(r"[+-]?[0-9]{1,40}")


def _integer(field: FieldInfo, text: str) -> int:
    stripped = text.strip()
    if not _INTEGER.fullmatch(stripped):
        raise Invalid(f"expected an integer, got {text!r}")
    return _in_range(field, int(stripped))


def _in_range(field: FieldInfo, value: int) -> int:
    if (field.minimum is not None and value < field.minimum) or (
        field.maximum is not None and value > field.maximum
    ):
        raise Invalid(f"{value} is out of range ({field.minimum} to {field.maximum})")
    return value


def _number(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise Invalid(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise Invalid(f"expected a finite number, got {text!r}")
    return value


def _string(field: FieldInfo, text: str, *, check_length: bool) -> Any:
    if "\x00" in text:
        raise Invalid("text may not contain NUL characters")
    fmt = field.format
    try:
        if fmt == "date-time":
            return _stored_datetime(field, datetime.datetime.fromisoformat(text))
        if fmt == "date":
            return datetime.date.fromisoformat(text)
        if fmt == "time":
            return datetime.time.fromisoformat(text)
        if fmt == "uuid":
            value = uuid.UUID(text)
            return value if field.python_type is uuid.UUID else str(value)
        if fmt == "decimal":
            number = decimal.Decimal(text.strip())
            if not number.is_finite():
                raise Invalid(f"expected a finite decimal number, got {text!r}")
            if field.precision is not None and number:
                whole_digits = max(number.adjusted() + 1, 0)
                allowed = field.precision - (field.scale or 0)
                if whole_digits > allowed:
                    raise Invalid(
                        f"{text} has too many digits (at most {allowed} before the point)"
                    )
            return number
        if fmt == "byte":
            return base64.b64decode(text, validate=True)
    except Invalid:  # already says what is wrong (too many digits), keep it
        raise
    except (ValueError, decimal.InvalidOperation, binascii.Error):
        raise Invalid(f"expected a {fmt} string, got {text!r}") from None
    if check_length and field.max_length is not None and len(text) > field.max_length:
        raise Invalid(f"longer than {field.max_length} characters")
    if field.python_type is not None and field.python_type is not str:
        return text
    return text


def _stored_datetime(field: FieldInfo, value: datetime.datetime) -> datetime.datetime:
    """The value as the column will give it back, so a write's answer matches later reads.

    A naive column keeps UTC wall time (an offset is converted, then dropped); a column with
    a time zone reads a value without offset as UTC.
    """
    if field.timezone:
        return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)
    if value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _enum_member(field: FieldInfo, value: Any) -> Any:
    enum_class = field.python_type
    if field.enum is None:
        raise TypeError(f"{field.name} is not an enum field")
    if value in field.enum and not isinstance(value, bool):
        if enum_class is not None and issubclass(enum_class, enum.Enum):
            return enum_class(value)
        return value
    allowed = ", ".join(str(v) for v in field.enum)
    raise Invalid(f"expected one of {allowed}, got {value!r}")


def _describe(value: Any) -> str:
    kind = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)
    shown = repr(value)
    return f"{kind} ({shown if len(shown) <= 40 else shown[:37] + '...'})"
