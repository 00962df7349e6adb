"""The endpoint table: which URLs a model has and which methods each answers, as the routes,
the index and the OpenAPI document all read it."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from flasker_api.endpoint_table import key_segment, model_endpoints, relation_methods
from flasker_api.model_info import FieldInfo, ModelInfo, RelationInfo


class House:
    pass


class Cat:
    pass


def relation(name: str, uselist: bool, **options: object) -> RelationInfo:
    direction = "one_to_many" if uselist else "many_to_one"
    return RelationInfo(name, Cat, "cats", uselist, direction, **options)  # type: ignore[arg-type]


def house(
    methods: Iterable[str], *relations: RelationInfo, key: tuple[str, ...] = ("id",)
) -> ModelInfo:
    fields = {
        name: FieldInfo(name, name, "integer", nullable=False, primary_key=True) for name in key
    }
    return ModelInfo(
        House,
        "houses",
        fields,
        key,
        (),
        {r.name: r for r in relations},
        {},
        frozenset(methods),
    )


def table(info: ModelInfo) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(e.name, e.path("/api", key_segment(info)), e.methods) for e in model_endpoints(info)]


def test_every_url_of_a_writable_model() -> None:
    info = house(
        ["GET", "POST", "PUT", "PATCH", "DELETE"], relation("cats", True), relation("owner", False)
    )
    assert table(info) == [
        ("houses_collection", "/api/houses/", ("GET", "POST")),
        ("houses_item", "/api/houses/{id}", ("GET", "PUT", "PATCH", "DELETE")),
        ("houses_cats_relation", "/api/houses/{id}/cats/", ("GET", "PUT")),
        ("houses_cats_position", "/api/houses/{id}/cats/{position}", ("GET",)),
        ("houses_owner_relation", "/api/houses/{id}/owner", ("GET", "PUT")),
    ]


def test_a_read_only_model_has_get_only() -> None:
    info = house(["GET"], relation("cats", True))
    assert [methods for _, _, methods in table(info)] == [("GET",)] * 4


def test_urls_without_a_method_are_left_out() -> None:
    """No GET: no collection listing of GET, no relation GET, and so no position URL."""
    info = house(["POST", "PATCH"], relation("cats", True))
    assert table(info) == [
        ("houses_collection", "/api/houses/", ("POST",)),
        ("houses_item", "/api/houses/{id}", ("PATCH",)),
        ("houses_cats_relation", "/api/houses/{id}/cats/", ("PUT",)),
    ]


@pytest.mark.parametrize(
    ("options", "methods"),
    [
        ({}, ("GET", "PUT")),
        ({"read_only": True}, ("GET",)),
        ({"is_dynamic": True}, ("GET",)),
    ],
)
def test_relation_methods(options: dict[str, bool], methods: tuple[str, ...]) -> None:
    info = house(["GET", "PATCH"])
    assert relation_methods(info, relation("cats", True, **options)) == methods


def test_composite_keys_and_flask_rules() -> None:
    info = house(["GET"], relation("cats", True), key=("a", "b"))
    assert key_segment(info) == "{a},{b}"
    position = model_endpoints(info)[-1]
    assert position.path("", "<key>", "<int:position>") == "/houses/<key>/cats/<int:position>"
