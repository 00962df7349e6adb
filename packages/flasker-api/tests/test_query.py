"""The list query string: filters and operators, or-groups, sort, limit/offset, cursors, sparse
fieldsets, count, and a 400 naming the parameter for anything wrong."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

ALL_CATS = {"Felix", "Garfield", "Tom", "Salem", "Mittens", "Luna", "Ghost"}
HOUSED = "house_id=not.is.null"


def names(api, query: str) -> set[str]:
    return {c["name"] for c in api.data(f"/cats/?{query}")}


def ordered(api, path: str, key: str = "name") -> list:
    return [item[key] for item in api.data(path)]


def next_links(response) -> list[str]:
    """The rel="next" targets of a response's Link header."""
    header = response.headers.get("Link", "")
    return re.findall(r'<([^>]*)>\s*;\s*rel="?next"?', header)


def walk(api, first: str, key: str = "name") -> tuple[list, list[str]]:
    """Follow meta.next from `first` to the end; return every item's key and the links taken."""
    seen: list = []
    links: list[str] = []
    url: str | None = api.url(first)
    for _ in range(50):
        response = api.client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        body = response.get_json()
        seen += [item[key] for item in body["data"]]
        url = body["meta"]["next"]
        if url is None:
            return seen, links
        links.append(url)
    pytest.fail(f"no end after 50 pages: {links[-3:]}")


# -- filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("color=black", {"Felix", "Salem"}),
        ("color=eq.black", {"Felix", "Salem"}),
        ("color=eq.BLACK", set()),
        ("age=gte.5", {"Garfield", "Tom", "Salem"}),
        ("age=gt.5", {"Garfield", "Salem"}),
        ("age=lt.3", {"Mittens", "Luna"}),
        ("age=lte.3", {"Mittens", "Luna", "Felix"}),
        ("age=eq.12", {"Salem"}),
        # SQL semantics: a NULL is neither equal nor unequal
        ("age=ne.3", {"Garfield", "Tom", "Salem", "Mittens", "Luna"}),
        ("name=like.*i*", {"Felix", "Garfield", "Mittens"}),
        ("name=like.G*", {"Garfield", "Ghost"}),
        ("name=like.g*", set()),
        ("name=ilike.*TOM*", {"Tom"}),
        ("name=ilike.*tom*", {"Tom"}),
        ("name=ilike.m*", {"Mittens"}),
        ("age=in.(1,2,3)", {"Mittens", "Luna", "Felix"}),
        ("name=in.(Felix,Tom)", {"Felix", "Tom"}),
        ("house_id=is.null", {"Ghost"}),
        ("house_id=not.is.null", ALL_CATS - {"Ghost"}),
        ("name=not.eq.Felix", ALL_CATS - {"Felix"}),
        ("age=not.in.(1,2,3)", {"Garfield", "Tom", "Salem"}),
        ("name=not.ilike.*e*", {"Tom", "Luna", "Ghost"}),
        ("age=not.gt.3", {"Felix", "Mittens", "Luna"}),
        ("color=black&age=gt.5", {"Salem"}),
        ("house_id=3", {"Salem", "Mittens", "Luna"}),
    ],
)
def test_filter_operators(api, query, expected):
    assert names(api, query) == expected


def test_filtered_total_counts_the_matches_not_the_table(api):
    body = api.ok("/cats/?color=black&limit=1")
    assert body["meta"]["total"] == 2
    assert body["meta"]["returned"] == 1


def test_like_pattern_characters_of_sql_are_literal(api):
    api.insert("cats", {"name": "100%_cat"})
    assert names(api, "name=like.*%*") == {"100%_cat"}
    assert names(api, "name=like.*_c*") == {"100%_cat"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("or=(age.lt.2,color.eq.black)", {"Mittens", "Felix", "Salem"}),
        ("house_id=3&or=(age.lt.2,age.gt.10)", {"Mittens", "Salem"}),
        ("or=(name.ilike.*tom*,age.is.null)", {"Tom", "Ghost"}),
        ("or=(age.in.(1,12),name.eq.Tom)", {"Mittens", "Salem", "Tom"}),
        ("or=(color.not.eq.black,age.gt.10)", {"Garfield", "Tom", "Mittens", "Luna", "Salem"}),
    ],
)
def test_or_groups(api, query, expected):
    assert names(api, query) == expected


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("kind=mouse", [2]),
        ("kind=in.(ball,feather)", [1, 3]),
        ("price=gte.9.99", [2, 3]),
        ("price=lt.10", [1, 2]),
        ("bought=lt.2024-01-01", [3]),
        ("bought=gte.2024-01-15", [1, 2]),
        ("last_played=gte.2024-06-01T00:00:00", [2]),
        ("last_played=is.null", [3]),
        ("squeaky=is.true", [1]),
        ("squeaky=is.false", [2, 3]),
        ("squeaky=eq.false", [2, 3]),
        ("sku=ilike.*-1", [1, 2, 3]),
        ("cat_name=Felix", [1, 2]),
    ],
)
def test_filters_on_typed_columns(api, query, ids):
    assert sorted(t["id"] for t in api.data(f"/toys/?{query}")) == ids


def test_filter_on_a_mapped_model(api):
    assert [p["name"] for p in api.data("/persons/?email=is.null")] == ["Cy"]
    assert [p["name"] for p in api.data("/persons/?name=ilike.b*")] == ["Bob"]


def test_filter_on_composite_key_columns(api):
    data = api.data("/memberships/?person_id=2&sort=club_id")
    assert [(m["club_id"], m["role"]) for m in data] == [(1, "member"), (2, "cox")]


# -- sort -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("age", ["Mittens", "Luna", "Felix", "Tom", "Garfield", "Salem"]),
        ("-age", ["Salem", "Garfield", "Tom", "Felix", "Luna", "Mittens"]),
        ("color,-name", ["Salem", "Felix", "Tom", "Garfield", "Luna", "Mittens"]),
        ("-color,name", ["Mittens", "Luna", "Garfield", "Tom", "Felix", "Salem"]),
        ("house_id,-age", ["Garfield", "Felix", "Tom", "Salem", "Luna", "Mittens"]),
        ("name", ["Felix", "Garfield", "Luna", "Mittens", "Salem", "Tom"]),
        ("-name", ["Tom", "Salem", "Mittens", "Luna", "Garfield", "Felix"]),
    ],
)
def test_sort(api, sort, expected):
    assert ordered(api, f"/cats/?{HOUSED}&sort={sort}") == expected


def test_sort_decimals_and_dates_by_value(api):
    assert ordered(api, "/toys/?sort=-price", "id") == [3, 2, 1]
    assert ordered(api, "/toys/?sort=bought", "id") == [3, 1, 2]


def test_default_order_is_the_primary_key(api):
    assert ordered(api, "/cats/") == sorted(ALL_CATS)
    assert [(m["club_id"], m["person_id"]) for m in api.data("/memberships/")] == [
        (1, 1),
        (1, 2),
        (2, 2),
    ]


# -- limit / offset / Link ----------------------------------------------------------------------


def test_limit_and_offset(api):
    response = api.get("/cats/?sort=name&limit=2&offset=2")
    body = response.get_json()
    assert [c["name"] for c in body["data"]] == ["Ghost", "Luna"]
    assert body["meta"]["total"] == 7
    assert body["meta"]["returned"] == 2
    assert body["meta"]["limit"] == 2
    assert body["meta"]["offset"] == 2
    assert body["meta"]["next"] is not None
    links = next_links(response)
    assert len(links) == 1
    assert urlsplit(links[0])[2:] == urlsplit(body["meta"]["next"])[2:]


def test_next_link_keeps_the_filters_and_sort(api):
    body = api.ok("/cats/?color=black&sort=-age&limit=1")
    assert [c["name"] for c in body["data"]] == ["Salem"]
    query = parse_qs(urlsplit(body["meta"]["next"]).query)
    assert query.get("color") == ["black"]
    assert query.get("sort") == ["-age"]
    second = api.client.get(body["meta"]["next"]).get_json()
    assert [c["name"] for c in second["data"]] == ["Felix"]
    assert second["meta"]["next"] is None


def test_last_page_has_no_next(api):
    response = api.get("/cats/?sort=name&limit=2&offset=6")
    body = response.get_json()
    assert [c["name"] for c in body["data"]] == ["Tom"]
    assert body["meta"]["next"] is None
    assert next_links(response) == []


def test_offset_past_the_end_is_an_empty_page(api):
    body = api.ok("/cats/?offset=50")
    assert body["data"] == []
    assert body["meta"]["total"] == 7
    assert body["meta"]["returned"] == 0
    assert body["meta"]["next"] is None


def test_default_limit_is_20(api):
    api.insert("houses", *({"id": i, "address": f"{i} Long Street"} for i in range(10, 40)))
    body = api.ok("/houses/")
    assert body["meta"]["limit"] == 20
    assert body["meta"]["returned"] == 20
    assert body["meta"]["total"] == 34
    assert body["meta"]["next"] is not None


def test_limit_up_to_max_limit_is_allowed(api):
    assert api.ok("/cats/?limit=1000")["meta"]["returned"] == 7


# -- cursors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "sort=name&limit=2",
        "limit=3",
        "sort=-age&limit=2",
        "sort=color&limit=1",
        "sort=-name,age&limit=4",
    ],
)
def test_following_next_walks_the_whole_collection_once(api, query):
    seen, _ = walk(api, f"/cats/?{query}")
    expected = sorted(ALL_CATS)[1:] if "offset=1" in query else sorted(ALL_CATS)
    assert sorted(seen) == expected
    assert len(seen) == len(set(seen))


def test_walk_keeps_the_sort_order_across_pages(api):
    seen, _ = walk(api, f"/cats/?{HOUSED}&sort=color,-name&limit=2")
    assert seen == ["Salem", "Felix", "Tom", "Garfield", "Luna", "Mittens"]


def test_walk_over_a_composite_key(api):
    seen, _ = walk(api, "/memberships/?limit=1", key="role")
    assert seen == ["captain", "member", "cox"]


def test_next_link_is_an_after_cursor(api):
    body = api.ok("/cats/?sort=name&limit=2")
    query = parse_qs(urlsplit(body["meta"]["next"]).query)
    assert "after" in query, body["meta"]["next"]
    assert "offset" not in query


def test_cursor_pages_do_not_shift_when_rows_are_added_before(api):
    body = api.ok("/cats/?sort=name&limit=2")
    assert [c["name"] for c in body["data"]] == ["Felix", "Garfield"]
    api.insert("cats", {"name": "Aaron"}, {"name": "Abby"})
    second = api.client.get(body["meta"]["next"]).get_json()
    assert [c["name"] for c in second["data"]] == ["Ghost", "Luna"]


def test_after_cursor_given_by_hand(api):
    body = api.ok("/cats/?sort=-age&limit=2&house_id=not.is.null")
    cursor = parse_qs(urlsplit(body["meta"]["next"]).query)["after"][0]
    response = api.get(
        "/cats/",
        query_string={"sort": "-age", "limit": 2, "after": cursor, "house_id": "not.is.null"},
    )
    assert [c["name"] for c in response.get_json()["data"]] == ["Tom", "Felix"]


@pytest.mark.parametrize("mangle", ["flip", "truncate", "garbage", "empty"])
def test_tampered_cursor_is_400(api, mangle):
    body = api.ok("/cats/?sort=name&limit=2")
    cursor = parse_qs(urlsplit(body["meta"]["next"]).query)["after"][0]
    bad = {
        "flip": cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1],
        "truncate": cursor[: len(cursor) // 2],
        "garbage": "not-a-cursor!",
        "empty": "",
    }[mangle]
    response = api.get("/cats/", query_string={"sort": "name", "limit": 2, "after": bad})
    api.problem(response, 400, parameter="after")


# -- sparse fieldsets -----------------------------------------------------------------------------


def test_fields_keeps_only_the_fields_asked_for(api):
    for cat in api.data("/cats/?fields=name,age"):
        assert {"name", "age"} <= set(cat)
        assert "color" not in cat
        assert "house_id" not in cat


def test_fields_without_the_key(api):
    for cat in api.data("/cats/?fields=color"):
        assert "color" in cat
        assert "age" not in cat


def test_fields_may_name_properties(api):
    houses = api.data("/houses/?fields=id,label")
    assert houses[0] == {"id": 1, "label": "House 1: 1 Rue des Chats, Paris"}


def test_fields_leave_out_properties_not_asked_for(api):
    for house in api.data("/houses/?fields=address"):
        assert "address" in house
        assert "label" not in house
        assert "cat_count" not in house


def test_fields_on_a_single_object(api):
    body = api.ok("/cats/Felix?fields=color")
    assert body["color"] == "black"
    assert "age" not in body


def test_fields_per_collection_in_nested_objects(api):
    house = api.ok("/houses/1?include=cats&fields[cats]=name")
    assert house["address"] == "1 Rue des Chats, Paris"
    assert [c["name"] for c in house["cats"]] == ["Felix", "Garfield"]
    for cat in house["cats"]:
        assert "color" not in cat
        assert "age" not in cat


def test_fields_for_top_level_and_nested_together(api):
    houses = api.data("/houses/?include=cats&fields=id&fields[cats]=age")
    assert houses[0]["id"] == 1
    assert "address" not in houses[0]
    assert [c["age"] for c in houses[0]["cats"]] == [3, 7]


# -- count ------------------------------------------------------------------------------------


def test_count_exact(api):
    assert api.ok("/cats/?count=exact&limit=1")["meta"]["total"] == 7


def test_count_none_leaves_total_out(api):
    body = api.ok("/cats/?count=none&limit=2&sort=name")
    assert body["meta"].get("total") is None
    assert [c["name"] for c in body["data"]] == ["Felix", "Garfield"]
    assert body["meta"]["returned"] == 2
    assert body["meta"]["next"] is not None


def test_count_none_on_the_last_page_has_no_next(api):
    body = api.ok("/cats/?count=none&limit=10")
    assert body["meta"]["returned"] == 7
    assert body["meta"]["next"] is None


def test_count_none_with_a_page_exactly_full_has_no_next(api):
    body = api.ok("/cats/?count=none&limit=7")
    assert body["meta"]["returned"] == 7
    assert body["meta"]["next"] is None


# -- 400s naming the parameter ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("colour=black", "colour"),
        ("age=abc", "age"),
        ("age=gte.abc", "age"),
        ("age=between.1", "age"),
        ("age=gte.", "age"),
        ("age=in.(1,x)", "age"),
        ("house_id=is.maybe", "house_id"),
        ("label=House", "label"),
        ("or=(age.lt.2", "or"),
        ("or=(colour.eq.black)", "or"),
        ("or=(age.zz.2)", "or"),
        ("or=age.lt.2", "or"),
        ("sort=colour", "sort"),
        ("sort=label", "sort"),
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=1001", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        ("depth=4", "depth"),
        ("depth=-1", "depth"),
        ("depth=deep", "depth"),
        ("include=dogs", "include"),
        ("include=house.dogs", "include"),
        ("fields=colour", "fields"),
        ("fields[dogs]=name", "fields[dogs]"),
        ("count=maybe", "count"),
        ("after=garbage", "after"),
    ],
)
def test_bad_query_is_400_naming_the_parameter(api, query, parameter):
    api.problem(api.get(f"/cats/?{query}"), 400, parameter=parameter)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("kind=eq.dragon", "kind"),
        ("price=lt.cheap", "price"),
        ("bought=gte.yesterday", "bought"),
        ("bought=eq.2024-13-45", "bought"),
        ("last_played=gt.soon", "last_played"),
        ("squeaky=eq.perhaps", "squeaky"),
        ("id=in.(1,2,x)", "id"),
    ],
)
def test_typed_filter_values_are_checked(api, query, parameter):
    api.problem(api.get(f"/toys/?{query}"), 400, parameter=parameter)


def test_unknown_parameter_lists_the_allowed_ones(api):
    body = api.problem(api.get("/cats/?colour=black"), 400, parameter="colour")
    text = str(body)
    for allowed in ("color", "sort", "limit"):
        assert allowed in text


def test_unknown_parameter_on_a_single_object_is_400(api):
    api.problem(api.get("/cats/Felix?colour=black"), 400, parameter="colour")


def test_unknown_nested_fieldset_field_is_400(api):
    response = api.get("/houses/?include=cats&fields[cats]=colour")
    api.problem(response, 400, parameter="fields[cats]")
