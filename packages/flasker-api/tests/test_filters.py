"""Filters of a list request (filters.py): what `?age=gte.3` and `?or=(…)` become, and what a
client reads when a filter is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Boolean, ForeignKey, Integer, Unicode
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flasker_api._coerce import Invalid
from flasker_api.filters import (
    Condition,
    Group,
    parse_filter_parameter,
    parse_group_parameter,
    split_items,
)
from flasker_api.model_info import build_model_info
from flasker_api.problems import ProblemCollector


class Base(DeclarativeBase):
    pass


class Owner(Base):
    __tablename__ = "f_owners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Dog(Base):
    __tablename__ = "f_dogs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(20))
    age: Mapped[int | None] = mapped_column(Integer)
    good: Mapped[bool] = mapped_column(Boolean)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("f_owners.id"))
    owner: Mapped[Owner | None] = relationship()

    @property
    def title(self) -> str:
        return self.name


DOG = build_model_info(Dog)


def parsed(name: str, text: str) -> tuple[list[Any], list[dict[str, str]]]:
    problems = ProblemCollector()
    return parse_filter_parameter(name, text, DOG, problems), problems.errors


@pytest.mark.parametrize(
    ("name", "text", "condition"),
    [
        ("name", "Rex", Condition("name", "eq", "Rex")),
        ("age", "gte.3", Condition("age", "gte", 3)),
        ("age", "not.lt.3", Condition("age", "lt", 3, negate=True)),
        ("name", "ilike.*ex*", Condition("name", "ilike", "*ex*")),
        ("age", "in.(1, 2,3)", Condition("age", "in", (1, 2, 3))),
        ("name", 'in.("a,b",c)', Condition("name", "in", ("a,b", "c"))),
        ("owner_id", "is.null", Condition("owner_id", "is", None)),
        ("good", "is.true", Condition("good", "is", True)),
        ("name", "gt.", Condition("name", "gt", "")),
        ("name", "nope.x", Condition("name", "eq", "nope.x")),  # not an operator: equality
    ],
)
def test_conditions(name, text, condition):
    assert parsed(name, text) == ([condition], [])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("age", "gte.old", "expected an integer, got 'old'"),
        ("age", "like.3*", "like applies to text fields only"),
        ("age", "is.true", "is.true applies to boolean fields only"),
        ("good", "is.maybe", "is. takes null, true or false, got 'maybe'"),
        ("name", 'in.(a,"b)', "unclosed quote in 'a,\"b'"),
        ("title", "x", "title is a computed property: filters apply to columns only"),
        ("owner", "1", "owner is a relation: filter on its key column instead"),
        (
            "colour",
            "x",
            "unknown parameter (allowed: sort, limit, offset, after, fields, include, depth, "
            "count, or, fields[<type>], id, name, age, good, owner_id)",
        ),
    ],
)
def test_bad_conditions_are_reported_on_their_parameter(name, text, message):
    assert parsed(name, text) == ([], [{"parameter": name, "message": message}])


def test_groups_nest_and_negate():
    problems = ProblemCollector()
    group = parse_group_parameter(
        "not.or", "(age.lt.2,and(name.eq.Rex,good.not.is.true))", DOG, problems
    )
    assert problems.errors == []
    assert group == Group(
        "or",
        (
            Condition("age", "lt", 2),
            Group("and", (Condition("name", "eq", "Rex"), Condition("good", "is", True, True))),
        ),
        negate=True,
    )


def test_an_and_parameter_is_a_group():
    assert parsed("and", "(age.gt.1,age.lt.9)") == (
        [Group("and", (Condition("age", "gt", 1), Condition("age", "lt", 9)))],
        [],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("age.lt.2", "expected (or conditions), e.g. (age.lt.2,color.eq.black)"),
        ("(age.lt.2,)", "empty condition in or=(age.lt.2,)"),
        ("(age.2)", "age: expected <operator>.<value> with an operator among eq, ne, gt, gte, "
         "lt, lte, like, ilike, in, is, got '2'"),
        ("(colour.eq.x)", "'colour.eq.x': expected <field>.<operator>.<value> with a field "
         "among id, name, age, good, owner_id"),
    ],
)  # fmt: skip
def test_bad_groups_are_reported(text, message):
    problems = ProblemCollector()
    assert parse_group_parameter("or", text, DOG, problems) is None
    assert problems.errors == [{"parameter": "or", "message": message}]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("a, b ,c", ["a", "b", "c"]),
        ('" a ",b', [" a ", "b"]),
        ('"x\\"y",z', ['x"y', "z"]),
        ("f(a,b),c", ["f(a,b)", "c"]),
        ('""', [""]),
        ("", []),
    ],
)
def test_split_items(text, items):
    assert split_items(text) == items


def test_unbalanced_parentheses_are_refused():
    with pytest.raises(Invalid, match=r"^unbalanced parentheses in 'f\(a'$"):
        split_items("f(a")
