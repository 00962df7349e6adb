"""A model's read-only properties as the API shows them (properties.py): `api_property`, what
`find_properties` finds on a class, and the JSON type each gets."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flasker_api.properties import (
    PROPERTY_MARK,
    PropertyInfo,
    PropertyOptions,
    api_property,
    find_properties,
    property_info,
)


class Base(DeclarativeBase):
    pass


class Shelf(Base):
    """A shelf of books."""

    __tablename__ = "shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    width: Mapped[int]

    @property
    def half(self) -> float:
        """Half the width.

        Not part of the description."""
        return self.width / 2

    @property
    @api_property(loads=["books"], description="How many books")
    def book_total(self) -> int:
        return 0

    @property
    @api_property(expression=lambda: sa.literal(1, sa.Integer))
    def one(self):  # no annotation: the SQL type says integer
        return 1

    @property
    def wide(self) -> bool | None:
        return self.width > 100

    @property
    def _private(self) -> int:
        return 1

    @property
    def writable(self) -> int:
        return 1

    @writable.setter
    def writable(self, value: int) -> None:
        pass

    def method(self) -> int:
        return 1


class NarrowShelf(Shelf):
    wide = None  # a subclass replaces a property with something else: no longer shown


def test_public_read_only_properties_are_found_in_order():
    found = find_properties(Shelf, excluded=set(), taken={"id", "width"})
    assert list(found) == ["half", "book_total", "one", "wide"]


def test_excluded_and_taken_names_are_left_out():
    found = find_properties(Shelf, excluded={"half"}, taken={"one"})
    assert list(found) == ["book_total", "wide"]


def test_a_subclass_may_hide_a_property():
    assert list(find_properties(NarrowShelf, set(), set())) == ["half", "book_total", "one"]


def test_what_a_property_declares_and_its_type():
    found = find_properties(Shelf, set(), set())
    assert found["half"] == PropertyInfo(
        name="half", json_type="number", nullable=False, annotation=float,
        description="Half the width.",
    )  # fmt: skip
    assert found["book_total"] == PropertyInfo(
        name="book_total", loads=("books",), json_type="integer", nullable=False,
        annotation=int, description="How many books",
    )  # fmt: skip
    assert (found["one"].json_type, found["one"].in_sql) == ("integer", True)
    assert (found["wide"].json_type, found["wide"].nullable) == ("boolean", True)


def test_a_count_property_is_a_non_null_integer_computed_by_sql():
    info = property_info("n", lambda self: 0, PropertyOptions(count="books"))
    assert (info.json_type, info.nullable, info.count, info.in_sql) == (
        "integer",
        False,
        "books",
        True,
    )


def test_api_property_marks_the_getter_under_or_over_property():
    def getter(self) -> int:
        return 1

    marked = api_property(loads=["a"])(property(getter))
    assert getattr(getter, PROPERTY_MARK) == PropertyOptions(loads=("a",))
    assert isinstance(marked, property)


def test_api_property_takes_one_way_of_computing():
    with pytest.raises(
        ValueError, match=exactly("give one of loads=, count= or expression=, not several")
    ):
        api_property(loads=["books"], count="books")


def exactly(message: str) -> str:
    """A `match=` pattern for exactly this message."""
    return f"^{re.escape(message)}$"
