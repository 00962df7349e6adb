"""SQL types and Python annotations → the JSON types clients see (json_types.py)."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from flasker_api.json_types import describe_python, describe_type, integer_range


class Colour(enum.Enum):
    RED = "red"


class Level(enum.Enum):
    LOW = 1


class Code(sa.types.TypeDecorator[str]):
    """A decorated type: described as its impl, with its own Python type."""

    impl = sa.Unicode(10)
    cache_ok = True

    @property
    def python_type(self) -> type:
        return Colour


class Wait(sa.types.TypeDecorator[datetime.timedelta]):
    """A type decorating Interval: a duration too."""

    impl = sa.Interval
    cache_ok = True


@pytest.mark.parametrize(
    ("sql_type", "described"),
    [
        (sa.Integer(), ("integer", None, None, None, None, int)),
        (sa.BigInteger(), ("integer", None, None, None, None, int)),
        (sa.Boolean(), ("boolean", None, None, None, None, bool)),
        (sa.Float(), ("number", None, None, None, None, float)),
        (sa.Numeric(8, 2), ("string", "decimal", None, None, None, decimal.Decimal)),
        (sa.Numeric(8, 2, asdecimal=False), ("number", None, None, None, None, float)),
        (sa.DateTime(), ("string", "date-time", None, None, None, datetime.datetime)),
        (sa.Date(), ("string", "date", None, None, None, datetime.date)),
        (sa.Time(), ("string", "time", None, None, None, datetime.time)),
        (sa.Uuid(), ("string", "uuid", None, None, None, uuid.UUID)),
        (sa.Uuid(as_uuid=False), ("string", "uuid", None, None, None, str)),
        (sa.Unicode(20), ("string", None, None, None, 20, str)),
        (sa.Text(), ("string", None, None, None, None, str)),
        (sa.LargeBinary(), ("string", "byte", None, None, None, bytes)),
        (sa.JSON(), ("any", None, None, None, None, None)),
        (postgresql.ARRAY(sa.Integer()), ("array", None, "integer", None, None, list)),
        (sa.Enum(Colour), ("string", None, None, ("red",), None, Colour)),
        (sa.Enum(Level), ("integer", None, None, (1,), None, Level)),
        (sa.Enum("a", "b", name="ab"), ("string", None, None, ("a", "b"), 1, str)),
        (Code(), ("string", None, None, None, 10, Colour)),
        # Interval is a TypeDecorator over DateTime, but its values are timedeltas (seconds)
        (sa.Interval(), ("number", "duration", None, None, None, datetime.timedelta)),
        (postgresql.INTERVAL(), ("number", "duration", None, None, None, datetime.timedelta)),
    ],
)
def test_sql_types(sql_type, described):
    assert describe_type(sql_type) == described


def test_a_type_decorating_interval_is_a_duration():
    assert describe_type(Wait())[:2] == ("number", "duration")


@pytest.mark.parametrize(
    ("sql_type", "bounds"),
    [
        (sa.SmallInteger(), (-(2**15), 2**15 - 1)),
        (sa.Integer(), (-(2**31), 2**31 - 1)),
        (sa.BigInteger(), (-(2**63), 2**63 - 1)),
        (sa.Unicode(), (None, None)),
        (sa.Enum(Level), (None, None)),
    ],
)
def test_integer_ranges_are_the_databases(sql_type, bounds):
    assert integer_range(sql_type) == bounds


@pytest.mark.parametrize(
    ("annotation", "described"),
    [
        (int, ("integer", None, None, False)),
        (int | None, ("integer", None, None, True)),
        (bool, ("boolean", None, None, False)),
        (datetime.date, ("string", "date", None, False)),
        (datetime.timedelta, ("number", "duration", None, False)),
        (list[str], ("array", None, "string", False)),
        (dict[str, int], ("object", None, None, False)),
        (Colour, ("string", None, None, False)),
        (Level | None, ("integer", None, None, True)),
        (int | str, ("any", None, None, True)),
        ("int", ("any", None, None, True)),
        (object, ("any", None, None, True)),
    ],
)
def test_python_annotations(annotation, described):
    assert describe_python(annotation) == described
