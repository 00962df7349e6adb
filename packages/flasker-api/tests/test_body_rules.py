"""What a body must and may carry: required fields, the relations that cover a key column,
writable relations, addressable keys and JSON pointers."""

from __future__ import annotations

import pytest

from flasker_api.body_rules import (
    covering_relations,
    is_required,
    is_writable,
    json_pointer,
    unaddressable_key,
)
from flasker_api.model_info import FieldInfo, ModelInfo, RelationInfo


class Cat:
    pass


class House:
    pass


def to_house(name: str = "house", **options: bool) -> RelationInfo:
    return RelationInfo(name, House, "houses", False, "many_to_one", ("house_id",), **options)


KEY = FieldInfo("id", "id", "integer", nullable=False, primary_key=True)
NAME = FieldInfo("name", "name", "string", nullable=False)
HOUSE_ID = FieldInfo("house_id", "house_id", "integer", nullable=False, foreign_key=True)
DEFAULTED = FieldInfo("age", "age", "integer", nullable=False, has_default=True)


@pytest.mark.parametrize(
    ("field", "mode", "required"),
    [
        (NAME, "create", True),
        (NAME, "replace", True),
        (NAME, "update", False),
        (KEY, "create", True),
        (KEY, "replace", False),  # a PUT names the entity in its URL
        (DEFAULTED, "create", False),
    ],
)
def test_is_required(field: FieldInfo, mode: str, required: bool) -> None:
    assert is_required(field, mode) is required


def test_a_writable_relation_covers_its_key_column() -> None:
    info = ModelInfo(
        Cat,
        "cats",
        {"id": KEY, "house_id": HOUSE_ID},
        ("id",),
        (),
        {"house": to_house(), "home": to_house("home", read_only=True)},
        {},
    )
    assert covering_relations(info, "house_id") == ["house"]
    assert covering_relations(info, "id") == []


def test_view_only_and_dynamic_relations_are_not_writable() -> None:
    assert is_writable(to_house())
    assert not is_writable(to_house(read_only=True))
    assert not is_writable(to_house(is_dynamic=True))


@pytest.mark.parametrize(
    ("value", "composite", "addressable"),
    [
        ("tom", False, True),
        ("", False, False),
        ("..", False, False),
        ("a/b", False, False),
        ("a,b", False, True),
        ("a,b", True, False),
        (3, False, True),
    ],
)
def test_unaddressable_key(value: object, composite: bool, addressable: bool) -> None:
    assert (unaddressable_key(value, composite) is None) is addressable


def test_json_pointer_escapes_tilde_and_slash() -> None:
    assert json_pointer("address") == "/address"
    assert json_pointer("a/b~c") == "/a~1b~0c"
