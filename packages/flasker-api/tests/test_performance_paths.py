"""The fast read paths: properties the database computes (`count=`, `expression=`), pages and
entities read as plain rows with their included relations (reader.py), and statements built
once per shape. Values must match what Python would compute, on SQLite and PostgreSQL, and
query counts must not grow with the page size."""

from __future__ import annotations

from typing import Any

import pytest

from flasker_api.model_info import api_property, build_model_info

MODELS = """
    from __future__ import annotations

    from sqlalchemy import Column, ForeignKey, Integer, Unicode, func, select
    from sqlalchemy.orm import relationship

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True, max_limit=2000))

    class PerfHouseTag(Model):  # the secondary table of PerfHouse.tags, seeded as a model
        __tablename__ = "perf_house_tags"
        house_id = Column(ForeignKey("perf_houses.id"), primary_key=True)
        tag_id = Column(ForeignKey("perf_tags.id"), primary_key=True)


    class PerfHouse(Model):
        __tablename__ = "perf_houses"
        id = Column(Integer, primary_key=True)
        address = Column(Unicode(128), nullable=False)

        cats = relationship("PerfCat", back_populates="house", order_by="PerfCat.id")
        tags = relationship(
            "PerfTag", secondary="perf_house_tags", order_by="PerfTag.label", viewonly=True
        )

        @property
        @api.property(count="cats")
        def cat_count(self) -> int:
            return len(self.cats)

        @property
        @api.property(count="tags")
        def tag_count(self) -> int:
            return len(self.tags)

        @property
        @api.property(
            expression=lambda: select(func.max(PerfCat.age))
            .where(PerfCat.house_id == PerfHouse.id)
            .scalar_subquery()
        )
        def oldest(self) -> int | None:
            return max((c.age for c in self.cats), default=None)


    class PerfCat(Model):
        __tablename__ = "perf_cats"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)
        age = Column(Integer)
        house_id = Column(ForeignKey("perf_houses.id"))
        mother_id = Column(ForeignKey("perf_cats.id"))

        house = relationship("PerfHouse", back_populates="cats")
        kittens = relationship("PerfCat", order_by="PerfCat.id")

        @property
        @api.property(count="kittens")
        def kitten_count(self) -> int:
            return len(self.kittens)


    class PerfTag(Model):
        __tablename__ = "perf_tags"
        id = Column(Integer, primary_key=True)
        label = Column(Unicode(32), nullable=False)


    class PerfShelter(Model):
        \"\"\"A plain Python property next to a counted one (light entities, reader.py).\"\"\"

        __tablename__ = "perf_shelters"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)

        guests = relationship("PerfGuest", order_by="PerfGuest.id")

        @property
        def label(self) -> str:
            return f"Shelter {self.name}"

        @property
        @api.property(count="guests")
        def guest_count(self) -> int:
            return len(self.guests)


    class PerfGuest(Model):
        __tablename__ = "perf_guests"
        id = Column(Integer, primary_key=True)
        shelter_id = Column(ForeignKey("perf_shelters.id"))
"""

AGES = [3, None, 7, 1, 12]


def seed() -> dict[str, list[dict[str, Any]]]:
    """Five houses: house n has n - 1 cats (house 1 none); cats 2 and 3 are kittens of cat 1."""
    houses = [{"id": n, "address": f"{n} Elm Street"} for n in range(1, 6)]
    cats = []
    for house in houses:
        for index in range(house["id"] - 1):
            number = len(cats) + 1
            cats.append(
                {
                    "id": number,
                    "name": f"Cat {number}",
                    "age": AGES[(number + index) % len(AGES)],
                    "house_id": house["id"],
                    "mother_id": 1 if number in (2, 3) else None,
                }
            )
    tags = [{"id": 1, "label": "garden"}, {"id": 2, "label": "attic"}]
    links = [
        {"house_id": 2, "tag_id": 1},
        {"house_id": 2, "tag_id": 2},
        {"house_id": 3, "tag_id": 1},
    ]
    shelters = [{"id": 1, "name": "North"}, {"id": 2, "name": "South"}]
    guests = [{"id": n, "shelter_id": 1 if n <= 3 else 2} for n in range(1, 5)]
    return {
        "perf_houses": houses,
        "perf_cats": cats,
        "perf_tags": tags,
        "perf_house_tags": links,
        "perf_shelters": shelters,
        "perf_guests": guests,
    }


@pytest.fixture(scope="module")
def started(make_api: Any) -> Any:
    return make_api(MODELS, seed())


@pytest.fixture
def api(started: Any) -> Any:
    started.reseed()
    return started


def expected_houses() -> dict[int, dict[str, Any]]:
    data = seed()
    found: dict[int, dict[str, Any]] = {}
    for house in data["perf_houses"]:
        cats = [c for c in data["perf_cats"] if c["house_id"] == house["id"]]
        ages = [c["age"] for c in cats if c["age"] is not None]
        found[house["id"]] = {
            "cat_count": len(cats),
            "tag_count": sum(
                1 for link in data["perf_house_tags"] if link["house_id"] == house["id"]
            ),
            "oldest": max(ages, default=None),
        }
    return found


# -- values -------------------------------------------------------------------------------------
def test_counted_and_expression_properties_in_a_page(api):
    expected = expected_houses()
    houses = api.data("/perf_houses/")
    assert [h["id"] for h in houses] == [1, 2, 3, 4, 5]
    for house in houses:
        assert list(house) == ["id", "address", "cat_count", "tag_count", "oldest"]
        assert {k: house[k] for k in ("cat_count", "tag_count", "oldest")} == expected[house["id"]]


def test_counted_property_of_one_entity(api):
    house = api.ok("/perf_houses/4")
    assert house["cat_count"] == 3
    assert house["oldest"] == expected_houses()[4]["oldest"]
    assert api.ok("/perf_houses/1")["cat_count"] == 0
    assert api.ok("/perf_houses/1")["oldest"] is None


def test_self_referential_count(api):
    cats = {c["id"]: c["kitten_count"] for c in api.data("/perf_cats/?limit=100")}
    assert cats[1] == 2
    assert all(count == 0 for number, count in cats.items() if number != 1)


def test_counts_follow_the_data(api):
    api.insert("perf_cats", {"id": 100, "name": "New", "age": 30, "house_id": 1})
    house = api.ok("/perf_houses/1")
    assert (house["cat_count"], house["oldest"]) == (1, 30)


def test_counted_property_in_nested_entities(api):
    cats = api.data("/perf_cats/?include=house&limit=100")
    written = {}
    for cat in cats:
        house = cat["house"]
        if isinstance(house, dict):
            assert house["id"] not in written, "a house written twice"
            written[house["id"]] = house
        else:
            assert house in written  # a repeat is its key
    assert {k: h["cat_count"] for k, h in written.items()} == {
        k: v["cat_count"] for k, v in expected_houses().items() if v["cat_count"]
    }


def test_includes_through_a_secondary_table_and_a_self_reference(api):
    houses = api.data("/perf_houses/?include=tags,cats.kittens")
    by_id = {h["id"]: h for h in houses}
    assert [t["label"] for t in by_id[2]["tags"]] == ["attic", "garden"]
    assert [t if isinstance(t, int) else t["id"] for t in by_id[3]["tags"]] == [1]
    assert by_id[1]["tags"] == []
    assert by_id[1]["cats"] == []
    mother = by_id[2]["cats"][0]
    assert mother["id"] == 1
    assert mother["kitten_count"] == 2
    assert [k if isinstance(k, int) else k["id"] for k in mother["kittens"]] == [2, 3]


def test_sparse_fields_choose_the_computed_properties(api):
    houses = api.data("/perf_houses/?fields=id,cat_count")
    assert houses[3] == {"id": 4, "cat_count": 3}


def test_orm_path_computes_the_same_values(api):
    shelters = api.data("/perf_shelters/")
    assert [(s["label"], s["guest_count"]) for s in shelters] == [
        ("Shelter North", 3),
        ("Shelter South", 1),
    ]
    assert api.ok("/perf_shelters/2")["guest_count"] == 1


def test_written_entity_shows_its_computed_properties(api):
    created = api.post("/perf_houses/", json={"address": "9 New Road"})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert (created.get_json()["cat_count"], created.get_json()["oldest"]) == (0, None)
    changed = api.patch("/perf_houses/4", json={"address": "4 Elm Road"})
    assert changed.status_code == 200
    assert changed.get_json()["cat_count"] == 3


def test_etag_of_a_plain_read_matches_the_write_check(api):
    response = api.get("/perf_houses/3")
    etag = response.headers["ETag"]
    assert api.get("/perf_houses/3", headers={"If-None-Match": etag}).status_code == 304
    changed = api.patch("/perf_houses/3", json={"address": "3 Oak"}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    stale = api.patch("/perf_houses/3", json={"address": "3 Ash"}, headers={"If-Match": etag})
    assert stale.status_code == 412


def test_lookup_by_a_bad_key_is_still_a_404(api):
    api.problem(api.get("/perf_houses/nope"), 404, mentions=["perf_houses"])
    api.problem(api.get("/perf_houses/999"), 404)


def test_offset_pages_and_cursor_pages_of_an_unfiltered_list(api):
    first = api.ok("/perf_cats/?limit=4&offset=0&sort=-id")
    second = api.ok("/perf_cats/?limit=4&offset=4&sort=-id")
    assert [c["id"] for c in first["data"]] == [10, 9, 8, 7]
    assert [c["id"] for c in second["data"]] == [6, 5, 4, 3]
    assert first["meta"]["total"] == 10
    cursor = api.ok("/perf_cats/?limit=4&sort=-id")
    following = api.client.get(cursor["meta"]["next"]).get_json()
    assert [c["id"] for c in following["data"]] == [6, 5, 4, 3]


# -- query counts ---------------------------------------------------------------------------------
def add_houses(api: Any, count: int) -> None:
    houses = [{"id": 1000 + n, "address": f"{n} Row"} for n in range(count)]
    cats = [
        {"id": 1000 + n * 10 + k, "name": f"c{n}-{k}", "age": k, "house_id": 1000 + n}
        for n in range(count)
        for k in range(10)
    ]
    api.insert("perf_houses", *houses)
    api.insert("perf_cats", *cats)


@pytest.mark.parametrize(
    ("path", "queries"),
    [
        ("/perf_houses/?limit=1000", 1),  # page (with the counts in it); the page holds the total
        ("/perf_houses/?limit=3", 2),  # page, count
        ("/perf_houses/?limit=1000&include=cats", 2),  # page, cats
        ("/perf_houses/?limit=1000&include=cats,tags", 3),  # page, cats, tags (a join)
        ("/perf_houses/?limit=1000&include=cats.kittens", 3),  # page, cats, kittens
        ("/perf_cats/?limit=1000&include=house", 2),  # page, houses
        ("/perf_houses/2", 1),
        ("/perf_houses/2?include=cats", 2),
        ("/perf_shelters/", 1),  # a plain property on light entities: the page, counts in it
    ],
)
def test_query_counts_do_not_grow_with_the_page(api, path, queries):
    assert api.count_queries(path) == queries
    add_houses(api, 40)
    assert api.count_queries(path) == queries


def test_counted_property_loads_no_entity(api):
    with api.queries() as statements:
        api.ok("/perf_houses/?limit=100")
    assert len(statements) == 1
    assert "count(*)" in statements[0].lower()


# -- declarations and the OpenAPI document ----------------------------------------------------
def test_openapi_types_of_computed_properties(api):
    document = api.ok("/openapi.json")
    schemas = document["components"]["schemas"]
    house = next(s for s in schemas.values() if "tag_count" in s.get("properties", {}))
    cat_count = house["properties"]["cat_count"]
    assert cat_count["type"] == "integer"
    assert cat_count["readOnly"] is True
    oldest = house["properties"]["oldest"]
    assert oldest["readOnly"] is True
    assert "integer" in str(oldest)
    assert "null" in str(oldest)


def test_only_one_way_to_compute_a_property():
    with pytest.raises(ValueError, match="one of loads="):
        api_property(loads=["cats"], count="cats")


def test_count_must_name_a_to_many_relation(started):
    house = started.module.PerfHouse
    cat = started.module.PerfCat

    def getter(self: Any) -> int:
        return 0

    api_property(count="house")(getter)
    with pytest.raises(ValueError, match="no to-many relationship 'house'"):
        build_model_info(cat, extra_properties=[("bad", getter, getter.__flasker_api_property__)])
    assert build_model_info(house).properties["cat_count"].count == "cats"
