"""The engine's own smoke checks: the paths its author worried about most.

The thorough, contract-driven suite is in the other modules; these pin a few engine decisions:
constant query counts, no repetition with cycles, cursors that walk a whole collection, and
writes that change nothing when they fail.
"""

from __future__ import annotations


def test_query_count_does_not_grow_with_page_size_or_depth(api):
    # page + cats (shared by include=cats and cat_count's loads) + toys; the count is skipped
    # when the page holds every match
    small = api.count_queries("/houses/?limit=1&include=cats.toys&count=none")
    large = api.count_queries("/houses/?limit=100&include=cats.toys&count=none")
    assert small == large == 3


def test_a_cycle_writes_each_entity_once(api):
    page = api.ok("/cats/?include=house.cats&sort=name")
    felix = next(c for c in page["data"] if c["name"] == "Felix")
    # Felix and Garfield are rows of the page: nested, they are their keys
    assert felix["house"]["cats"] == ["Felix", "Garfield"]


def test_cursor_walks_every_row_once_with_nulls_in_the_sort_key(api):
    seen: list[str] = []
    url = "/cats/?sort=-age&limit=2"
    while url:
        body = api.ok(url)
        seen += [c["name"] for c in body["data"]]
        url = body["meta"]["next"] and body["meta"]["next"].removeprefix(api.prefix)
    assert sorted(seen) == sorted(c["name"] for c in api.rows("cats"))
    assert len(seen) == len(set(seen))


def test_plain_pages_and_entity_pages_agree(api):
    plain = api.data("/cats/?sort=name&fields=name,age")
    full = api.data("/cats/?sort=name&include=house")
    assert plain == [{"name": c["name"], "age": c["age"]} for c in full]


def test_a_failed_relation_write_changes_nothing(api):
    before = api.snapshot()
    response = api.put("/houses/1/cats/", json=["Tom", "Nobody"])
    api.problem(response, 422, pointer="/1")
    assert api.snapshot() == before


def test_a_key_inside_a_composite_key_cannot_be_blanked(api):
    api.insert("clubs", {"id": 9, "name": "Chess"})
    api.insert("persons", {"id": 9, "name": "Ann", "email": None})
    api.insert("memberships", {"club_id": 9, "person_id": 9, "role": "member"})
    before = api.snapshot()
    response = api.put("/memberships/9,9/club", data="null", content_type="application/json")
    api.problem(response, 422)
    assert api.snapshot() == before
