"""What objects look like: column types, properties, and nested models (`depth`, `include`)
with every entity serialised once per response (a repeat becomes its key)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest


def key_of(value: Any, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The key a repeated entity was replaced with, whatever its shape (the bare key, a list of
    key values, "k1,k2", or an object holding only the key), as a tuple of strings."""
    if isinstance(value, dict):
        assert set(value) == set(fields), f"expected a key reference, got a full object {value}"
        return tuple(str(value[f]) for f in fields)
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str) and len(fields) > 1:
        return tuple(value.split(","))
    return (str(value),)


def is_full(value: Any, *columns: str) -> bool:
    return isinstance(value, dict) and all(c in value for c in columns)


# -- column types -------------------------------------------------------------------------------


def test_typed_columns_as_json(api):
    toy = api.ok("/toys/1")
    assert toy["sku"] == "BALL-1"
    assert toy["kind"] == "ball"
    assert Decimal(str(toy["price"])) == Decimal("2.50")
    assert toy["bought"] == "2024-01-15"
    assert dt.datetime.fromisoformat(toy["last_played"]) == dt.datetime(2024, 3, 1, 9, 30)
    assert toy["squeaky"] is True
    assert toy["specs"] == {"colors": ["red"], "size": 3}
    assert toy["cat_name"] == "Felix"


def test_decimals_keep_their_digits(api):
    assert str(api.ok("/toys/3")["price"]) in {"15.00", "15.0", "15"}
    assert str(api.ok("/toys/2")["price"]) == "9.99"


def test_nulls_are_null(api):
    toy = api.ok("/toys/3")
    assert toy["last_played"] is None
    assert toy["specs"] is None
    ghost = api.ok("/cats/Ghost")
    assert ghost["color"] is None
    assert ghost["house_id"] is None


def test_mapped_style_model(api):
    assert api.ok("/persons/1") == {"id": 1, "name": "Ada", "email": "ada@example.org"}
    assert [p["name"] for p in api.data("/persons/")] == ["Ada", "Bob", "Cy"]


def test_typed_values_round_trip_through_post(api):
    sent = {
        "sku": "YARN-1",
        "kind": "feather",
        "price": "4.20",
        "bought": "2024-02-29",
        "last_played": "2024-02-29T12:00:00",
        "squeaky": True,
        "specs": {"colors": ["blue", "green"], "nested": {"ok": None}},
        "cat_name": "Tom",
    }
    response = api.post("/toys/", json=sent)
    assert response.status_code == 201, response.get_data(as_text=True)
    row = api.row("toys", sku="YARN-1")
    assert row["price"] == Decimal("4.20")
    assert row["bought"] == dt.date(2024, 2, 29)
    assert row["last_played"] == dt.datetime(2024, 2, 29, 12, 0)
    assert row["specs"] == {"colors": ["blue", "green"], "nested": {"ok": None}}
    assert row["squeaky"] is True
    assert str(row["kind"]).endswith("feather")
    got = api.client.get(response.headers["Location"]).get_json()
    assert got["bought"] == "2024-02-29"
    assert got["kind"] == "feather"
    assert got["specs"] == sent["specs"]


def test_decimal_may_be_sent_as_a_json_number(api):
    response = api.patch("/toys/1", json={"price": 3.75})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api.row("toys", id=1)["price"] == Decimal("3.75")


def test_json_column_accepts_any_json_value(api):
    for value in ([1, "two", None], "text", 42, {"deep": {"deeper": [True]}}):
        response = api.patch("/toys/2", json={"specs": value})
        assert response.status_code == 200, response.get_data(as_text=True)
        assert api.ok("/toys/2")["specs"] == value


def test_unicode_round_trips(api):
    response = api.post("/houses/", json={"address": "東京都 🐈 Straße"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert api.client.get(response.headers["Location"]).get_json()["address"] == (
        "東京都 🐈 Straße"
    )


# -- properties -------------------------------------------------------------------------------


def test_read_only_properties_appear_in_objects(api):
    house = api.ok("/houses/1")
    assert house["label"] == "House 1: 1 Rue des Chats, Paris"
    assert house["cat_count"] == 2


def test_properties_in_lists(api):
    houses = api.data("/houses/")
    assert [h["cat_count"] for h in houses] == [2, 1, 3, 0]
    assert houses[3]["label"] == "House 4: Empty House"


def test_property_follows_the_data(api):
    api.patch("/cats/Tom", json={"house_id": 4})
    assert api.ok("/houses/4")["cat_count"] == 1
    assert api.ok("/houses/2")["cat_count"] == 0


def test_property_in_a_nested_object(api):
    cat = api.ok("/cats/Luna?include=house")
    assert cat["house"]["label"] == "House 3: 221B Baker Street, London"
    assert cat["house"]["cat_count"] == 3


def test_properties_are_read_only(api):
    before = api.snapshot()
    response = api.patch("/houses/1", json={"cat_count": 10})
    api.problem(response, 422, pointer="/cat_count")
    assert api.snapshot() == before


# -- depth and include ------------------------------------------------------------------------


def test_depth_zero_nests_nothing(api):
    house = api.ok("/houses/1")
    assert not any(isinstance(c, dict) for c in house.get("cats") or [])
    cat = api.ok("/cats/Felix")
    assert not isinstance(cat.get("house"), dict)


def test_depth_one_nests_one_level(api):
    house = api.ok("/houses/1?depth=1")
    assert [c["name"] for c in house["cats"]] == ["Felix", "Garfield"]
    assert house["cats"][0]["color"] == "black"
    for cat in house["cats"]:
        assert not any(isinstance(toy, dict) for toy in cat.get("toys") or [])
        assert not isinstance(cat.get("house"), dict)


def test_depth_two_turns_the_parent_into_its_key(api):
    house = api.ok("/houses/1?depth=2")
    for cat in house["cats"]:
        assert key_of(cat["house"], ("id",)) == ("1",)
    felix = house["cats"][0]
    assert [t["sku"] for t in felix["toys"]] == ["BALL-1", "MOUSE-1"]


def test_to_one_relation_nested(api):
    cat = api.ok("/cats/Felix?include=house")
    assert cat["house"]["address"] == "1 Rue des Chats, Paris"
    assert api.ok("/cats/Ghost?include=house")["house"] is None


def test_include_a_path_includes_its_parents(api):
    house = api.ok("/houses/1?include=cats.toys")
    assert [t["id"] for t in house["cats"][0]["toys"]] == [1, 2]
    assert house["cats"][1]["toys"] == []


def test_include_only_what_is_asked(api):
    cat = api.ok("/cats/Felix?include=toys")
    assert len(cat["toys"]) == 2
    assert not isinstance(cat.get("house"), dict)


def test_include_in_lists_back_to_the_parent(api):
    houses = api.data("/houses/?include=cats,cats.house")
    assert [len(h["cats"]) for h in houses] == [2, 1, 3, 0]
    for house in houses:
        for cat in house["cats"]:
            assert is_full(cat, "name", "color", "age")
            assert key_of(cat["house"], ("id",)) == (str(house["id"]),)


def test_each_entity_is_serialised_once(api):
    cats = api.data("/cats/?include=house,house.cats")
    # every top-level item is a full object
    assert all(is_full(c, "name", "color") for c in cats)
    full_houses: Counter[int] = Counter()
    for cat in cats:
        house = cat["house"]
        if is_full(house, "id", "address"):
            full_houses[house["id"]] += 1
            # the cats inside were all serialised at the top level: keys only
            for inner in house["cats"]:
                assert key_of(inner, ("name",))[0] in {c["name"] for c in cats}
        elif house is not None:
            assert key_of(house, ("id",)) in {("1",), ("2",), ("3",)}
    assert full_houses == {1: 1, 2: 1, 3: 1}
    # the first cat of each house carries the house in full, the others its key
    felix, garfield = (next(c for c in cats if c["name"] == n) for n in ("Felix", "Garfield"))
    assert is_full(felix["house"], "id", "address")
    assert key_of(garfield["house"], ("id",)) == ("1",)


def test_each_entity_once_with_composite_keys(api):
    data = api.data("/memberships/?include=club,person")
    assert [m["role"] for m in data] == ["captain", "member", "cox"]
    assert is_full(data[0]["club"], "id", "name")
    assert key_of(data[1]["club"], ("id",)) == ("1",)
    assert is_full(data[2]["club"], "id", "name")
    assert is_full(data[1]["person"], "id", "name")
    assert key_of(data[2]["person"], ("id",)) == ("2",)


def test_repeat_of_a_composite_key_entity_is_its_key(api):
    club = api.ok("/clubs/1?include=memberships,memberships.club")
    assert [m["role"] for m in club["memberships"]] == ["captain", "member"]
    for membership in club["memberships"]:
        assert key_of(membership["club"], ("id",)) == ("1",)


def test_deepest_depth_allowed(api):
    house = api.ok("/houses/1?depth=3")
    assert [t["sku"] for t in house["cats"][0]["toys"]] == ["BALL-1", "MOUSE-1"]
    # the toy's cat is Felix again: a key
    assert key_of(house["cats"][0]["toys"][0]["cat"], ("name",)) == ("Felix",)


@pytest.mark.parametrize("path", ["/houses/?depth=3", "/cats/?depth=3", "/memberships/?depth=3"])
def test_no_entity_appears_twice_in_full_at_any_depth(api, path):
    seen: Counter[tuple[str, ...]] = Counter()

    def visit(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            if "address" in value:
                seen[("house", str(value["id"]))] += 1
            elif "color" in value:
                seen[("cat", value["name"])] += 1
            elif "sku" in value:
                seen[("toy", str(value["id"]))] += 1
            elif "role" in value:
                seen[("membership", f"{value['club_id']},{value['person_id']}")] += 1
            elif "email" in value:
                seen[("person", str(value["id"]))] += 1
            for item in value.values():
                visit(item)

    visit(api.data(path))
    assert seen
    assert max(seen.values()) == 1, [k for k, n in seen.items() if n > 1]
