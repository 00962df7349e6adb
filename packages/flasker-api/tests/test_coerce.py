"""Client values → column values (_coerce.py): what `?age=3` and a body's `"age": 3` become,
and the message a client reads when the database would refuse the value.

The fields are those of a real mapped model (`build_model_info`), so the bounds and formats
are the ones its SQL types give."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    Unicode,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flasker_api._coerce import Invalid, from_json, from_text, to_json_value
from flasker_api.model_info import build_model_info


class Base(DeclarativeBase):
    pass


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


class Parcel(Base):
    __tablename__ = "parcels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Unicode(8))
    weight: Mapped[int] = mapped_column(SmallInteger)
    ratio: Mapped[float] = mapped_column(Float)
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(5, 2))
    fragile: Mapped[bool] = mapped_column(Boolean)
    sent: Mapped[datetime.datetime] = mapped_column(DateTime)
    sent_tz: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True))
    due: Mapped[datetime.date] = mapped_column(Date)
    tracking: Mapped[uuid.UUID] = mapped_column(Uuid)
    size: Mapped[Size] = mapped_column(Enum(Size))
    photo: Mapped[bytes] = mapped_column(LargeBinary)
    extra: Mapped[dict] = mapped_column(JSON)


FIELDS = build_model_info(Parcel).fields


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("weight", " 12 ", 12),
        ("weight", "-32768", -32768),
        ("ratio", "0.5", 0.5),
        ("price", "12.50", decimal.Decimal("12.50")),
        ("fragile", "yes", True),
        ("fragile", "OFF", False),
        ("fragile", "t", True),  # PostgreSQL's spellings, beyond the cfg's words
        ("fragile", " F ", False),
        ("sent", "2024-03-01T09:30:00+02:00", datetime.datetime(2024, 3, 1, 7, 30)),
        (
            "sent_tz",
            "2024-03-01T09:30:00",
            datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.UTC),
        ),
        ("due", "2024-06-01", datetime.date(2024, 6, 1)),
        (
            "tracking",
            "12345678-1234-5678-1234-567812345678",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        ("size", "l", Size.LARGE),
        ("photo", "aGk=", b"hi"),
        ("label", "any length is fine in a query", "any length is fine in a query"),
    ],
)
def test_query_text_becomes_the_column_value(name, text, value):
    assert from_text(FIELDS[name], text) == value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("weight", "3.5", "expected an integer, got '3.5'"),
        ("weight", "40000", "40000 is out of range (-32768 to 32767)"),
        ("ratio", "nan", "expected a finite number, got 'nan'"),
        ("ratio", "many", "expected a number, got 'many'"),
        ("price", "1234.5", "1234.5 has too many digits (at most 3 before the point)"),
        ("price", "Infinity", "expected a finite decimal number, got 'Infinity'"),
        ("fragile", "maybe", "expected true or false, got 'maybe'"),
        ("due", "June", "expected a date string, got 'June'"),
        ("tracking", "nope", "expected a uuid string, got 'nope'"),
        ("size", "medium", "expected one of s, l, got 'medium'"),
        ("label", "a\x00b", "text may not contain NUL characters"),
        ("extra", "{}", "cannot compare a any field in a query"),
    ],
)
def test_bad_query_text_says_what_was_expected(name, text, message):
    with pytest.raises(Invalid) as caught:
        from_text(FIELDS[name], text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("weight", 3.0, 3),
        ("ratio", 2, 2.0),
        ("price", 9.5, decimal.Decimal("9.5")),
        ("size", "s", Size.SMALL),
        ("extra", {"a": [1]}, {"a": [1]}),
        ("label", None, None),
    ],
)
def test_json_values_become_column_values(name, value, expected):
    assert from_json(FIELDS[name], value) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("weight", True, "expected an integer, got a boolean (True)"),
        ("weight", "3", "expected an integer, got a string ('3')"),
        ("weight", 2.5, "expected an integer, got 2.5"),
        ("ratio", "1", "expected a number, got a string ('1')"),
        ("fragile", 1, "expected true or false, got an integer (1)"),
        ("label", "nine char", "longer than 8 characters"),
        ("label", 5, "expected a string, got an integer (5)"),
        ("size", True, "expected one of s, l, got True"),
    ],
)
def test_bad_json_values_say_what_was_expected(name, value, message):
    with pytest.raises(Invalid) as caught:
        from_json(FIELDS[name], value)
    assert str(caught.value) == message


def test_a_long_value_is_cut_in_the_message():
    with pytest.raises(Invalid) as caught:
        from_json(FIELDS["weight"], "x" * 100)
    assert str(caught.value) == f"expected an integer, got a string ('{'x' * 36}...)"


@pytest.mark.parametrize(
    ("name", "value", "json"),
    [
        ("size", Size.LARGE, "l"),
        ("sent", datetime.datetime(2024, 3, 1, 9, 30), "2024-03-01T09:30:00"),
        ("price", decimal.Decimal("1.20"), "1.20"),
        ("photo", b"hi", "aGk="),
        ("label", None, None),
    ],
)
def test_values_go_back_to_json_and_read_the_same(name, value, json):
    field = FIELDS[name]
    assert to_json_value(field, value) == json
    assert from_json(field, json) == value
