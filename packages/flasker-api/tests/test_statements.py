"""Queries per request, counted on the project's engine (never timed): constant in page size, one
per relation level, one per property's `loads`, one count, and no count with `count=none`."""

from __future__ import annotations

from typing import Any

import pytest

HOUSES = 150


def api_seed(default: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """150 houses with 3 cats each, each cat with a toy."""
    houses = [{"id": i, "address": f"{i} Long Street"} for i in range(1, HOUSES + 1)]
    cats = [
        {"name": f"cat-{h:03d}-{n}", "color": "grey", "age": n, "house_id": h}
        for h in range(1, HOUSES + 1)
        for n in range(3)
    ]
    toys = [
        {"id": i, "sku": f"SKU-{i}", "kind": "ball", "squeaky": False, "cat_name": cat["name"]}
        for i, cat in enumerate(cats, 1)
    ]
    return {**default, "houses": houses, "cats": cats, "toys": toys}


@pytest.fixture
def api(standard_api):
    """Nothing here writes: keep the module's rows, but warm the pool up."""
    standard_api.get("/houses/?limit=1")
    return standard_api


def costs(api, path: str, limits=(10, 100)) -> list[int]:
    """Queries of `path` for each page size (the path ends with `limit=`)."""
    return [api.count_queries(f"{path}{limit}") for limit in limits]


def test_page_of_columns_is_the_page_and_the_count(api):
    assert costs(api, "/houses/?fields=id,address&limit=") == [2, 2]


def test_count_none_saves_the_count(api):
    assert costs(api, "/houses/?fields=id,address&count=none&limit=") == [1, 1]


def test_include_costs_one_query_per_level_whatever_the_page_size(api):
    assert costs(api, "/houses/?fields=id,address&include=cats&limit=") == [3, 3]
    assert costs(api, "/houses/?fields=id,address&include=cats,cats.toys&limit=") == [4, 4]
    assert costs(api, "/houses/?fields=id,address&include=cats.toys&count=none&limit=") == [3, 3]


def test_include_really_returns_the_whole_page(api):
    body = api.ok("/houses/?include=cats.toys&limit=100")
    assert body["meta"]["returned"] == 100
    assert all(len(h["cats"]) == 3 for h in body["data"])
    assert all(len(c["toys"]) == 1 for h in body["data"] for c in h["cats"])


def test_to_one_include_is_one_query(api):
    assert costs(api, "/cats/?include=house&fields[houses]=id,address&limit=") == [3, 3]


def test_property_with_loads_costs_one_query_per_page(api):
    without = costs(api, "/houses/?fields=id,address&limit=")
    with_property = costs(api, "/houses/?limit=")
    assert with_property == [without[0] + 1, without[1] + 1]
    assert [h["cat_count"] for h in api.data("/houses/?limit=100")] == [3] * 100


def test_property_and_include_of_the_same_relation(api):
    counts = costs(api, "/houses/?include=cats&limit=")
    assert counts[0] == counts[1]
    assert counts[0] <= 4


def test_nested_property_with_loads_is_one_query_per_page(api):
    assert costs(api, "/cats/?include=house&limit=") == [4, 4]


def test_depth_is_constant_in_page_size(api):
    one, two = costs(api, "/houses/?fields=id,address&depth=1&limit=")
    assert one == two <= 3
    one, two = costs(api, "/houses/?depth=2&limit=")
    assert one == two
    # page, cats, the cats' toys and houses, cat_count's cats, count
    assert one <= 6


def test_single_object(api):
    assert api.count_queries("/houses/1?fields=id,address") == 1
    assert api.count_queries("/houses/1") == 2
    assert api.count_queries("/houses/1?include=cats.toys&fields=id,address") == 3


def test_relation_collection_is_constant_in_page_size(api):
    # house 1 has 3 cats: both pages have a next one, so both need the count
    one, two = costs(api, "/houses/1/cats/?limit=", limits=(1, 2))
    assert one == two <= 3
    assert api.count_queries("/houses/1/cats/?include=toys&limit=3") <= 4


def test_a_304_costs_no_more_than_the_get(api):
    response = api.get("/houses/?limit=100")
    etag = response.headers["ETag"]
    full = api.count_queries("/houses/?limit=100")
    with api.queries() as statements:
        assert api.get("/houses/?limit=100", headers={"If-None-Match": etag}).status_code == 304
    assert len(statements) <= full


def test_cursor_page_is_constant_in_page_size(api):
    body = api.ok("/houses/?fields=id,address&sort=-id&limit=5")
    next_url = body["meta"]["next"]
    with api.queries() as statements:
        assert api.client.get(next_url).status_code == 200
    assert len(statements) == 2
