"""Plain Python `@property`s, as flasker 0.1 users write them, read without ORM entities
(light entities, light.py and reader.py), on SQLite and PostgreSQL.

Each test checks the values a client sees and, where the fast path is the point, that the
request ran no ORM statement (`do_orm_execute`: the ORM path loads entities through the
request's session; the row path never does) and how many queries it cost.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

MODELS = """
    from __future__ import annotations

    from sqlalchemy import Column, ForeignKey, Integer, Unicode
    from sqlalchemy.orm import deferred, reconstructor, relationship

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True, max_limit=2000))


    class Described:
        \"\"\"A plain mixin: a class attribute, a method and a property a subclass extends.\"\"\"

        kind = "thing"

        def describe(self) -> str:
            return f"{self.kind} {self.id}"

        @property
        def title(self) -> str:
            return f"#{self.id}"


    class LiteHouse(Described, Model):
        __tablename__ = "lite_houses"
        kind = "house"
        id = Column(Integer, primary_key=True)
        address = Column(Unicode(128), nullable=False)
        secret = Column(Unicode(32))  # not shown by the API, read by a property
        notes = deferred(Column(Unicode(200)))

        cats = relationship("LiteCat", back_populates="house", order_by="LiteCat.name")

        @property
        def label(self) -> str:
            return f"{self.address} (house {self.id})"

        @property
        def summary(self) -> str:
            assert isinstance(self, LiteHouse) and self.__class__ is LiteHouse
            return " ".join(
                [self.describe(), self.shout(self.secret or "-"), self.table(), repr(self)]
            )

        @property
        def title(self) -> str:
            return super().title + "!"

        @property
        def position(self) -> int:
            return self.index()

        @property
        def columns(self) -> list[str]:
            return sorted(self.to_dict())

        @property
        @api.property(loads=["cats"])
        def cat_names(self) -> list[str]:
            return [cat.name for cat in self.cats]

        @property
        @api.property(loads=["cats.toys"])
        def toy_count(self) -> int:
            return sum(len(cat.toys) for cat in self.cats)

        @staticmethod
        def shout(text: str) -> str:
            return text.upper()

        @classmethod
        def table(cls) -> str:
            return cls.__tablename__

        def index(self) -> int:  # named like a tuple's method
            return self.id * 10


    class LiteCat(Model):
        __tablename__ = "lite_cats"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)
        house_id = Column(ForeignKey("lite_houses.id"))

        house = relationship("LiteHouse", back_populates="cats")
        toys = relationship("LiteToy", order_by="LiteToy.id")

        @property
        def label(self) -> str:
            return f"{self.name} of house {self.house_id}"

        @property
        @api.property(loads=["house"])
        def street(self) -> str | None:
            return None if self.house is None else self.house.address


    class LiteToy(Model):
        __tablename__ = "lite_toys"
        id = Column(Integer, primary_key=True)
        cat_id = Column(ForeignKey("lite_cats.id"))


    class LiteShelter(Model):
        \"\"\"`guest_names` reads a relation it does not declare: ORM entities must answer.\"\"\"

        __tablename__ = "lite_shelters"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)

        guests = relationship("LiteGuest", order_by="LiteGuest.id")

        @property
        def guest_names(self) -> list[str]:
            return [guest.name for guest in self.guests]


    class LiteGuest(Model):
        __tablename__ = "lite_guests"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)
        shelter_id = Column(ForeignKey("lite_shelters.id"))

        @property
        def ratio(self) -> float:
            return 1 / (self.id - 3)  # fails for guest 3, on any path


    class LiteBox(Model):
        \"\"\"Its instances get an attribute when the ORM loads them: always the ORM path.\"\"\"

        __tablename__ = "lite_boxes"
        id = Column(Integer, primary_key=True)
        size = Column(Integer, nullable=False)

        @reconstructor
        def _loaded(self) -> None:
            self.doubled_size = self.size * 2

        @property
        def doubled(self) -> int:
            return self.doubled_size


    api.add_model(LiteHouse, exclude=["secret"])
"""


def seed() -> dict[str, list[dict[str, Any]]]:
    """Three houses; house 1 has cats Tom and Felix (Felix has two toys), house 2 has Luna."""
    return {
        "lite_houses": [
            {"id": 1, "address": "1 Elm Street", "secret": "attic", "notes": "n"},
            {"id": 2, "address": "2 Oak Road", "secret": None, "notes": None},
            {"id": 3, "address": "3 Ash Lane", "secret": "cellar", "notes": None},
        ],
        "lite_cats": [
            {"id": 1, "name": "Tom", "house_id": 1},
            {"id": 2, "name": "Felix", "house_id": 1},
            {"id": 3, "name": "Luna", "house_id": 2},
            {"id": 4, "name": "Stray", "house_id": None},
        ],
        "lite_toys": [{"id": 1, "cat_id": 2}, {"id": 2, "cat_id": 2}, {"id": 3, "cat_id": 3}],
        "lite_shelters": [{"id": 1, "name": "North"}, {"id": 2, "name": "South"}],
        "lite_guests": [
            {"id": 1, "name": "Ann", "shelter_id": 1},
            {"id": 2, "name": "Bob", "shelter_id": 1},
            {"id": 3, "name": "Cid", "shelter_id": 2},
        ],
        "lite_boxes": [{"id": 1, "size": 4}],
    }


@pytest.fixture(scope="module")
def started(make_api: Any) -> Any:
    return make_api(MODELS, seed())


@pytest.fixture
def api(started: Any) -> Any:
    started.reseed()
    return started


@pytest.fixture
def orm_statements() -> Iterator[list[str]]:
    """ORM statements run through a session while the test runs (the entity path's)."""
    seen: list[str] = []

    def record(state: Any) -> None:
        seen.append(str(state.statement))

    event.listen(Session, "do_orm_execute", record)
    try:
        yield seen
    finally:
        event.remove(Session, "do_orm_execute", record)


# -- values, without entities -------------------------------------------------------------------
def test_a_plain_property_is_computed_without_entities(api, orm_statements):
    houses = api.data("/lite_houses/?fields=id,label")
    assert houses == [
        {"id": 1, "label": "1 Elm Street (house 1)"},
        {"id": 2, "label": "2 Oak Road (house 2)"},
        {"id": 3, "label": "3 Ash Lane (house 3)"},
    ]
    assert orm_statements == []


def test_a_property_sees_the_model_as_its_instances_do(api, orm_statements):
    """Methods, static and class methods, class attributes of a mixin, `super()`,
    `isinstance`, the repr, `to_dict()`, a column the API hides, a method named `index`."""
    house = api.ok("/lite_houses/1?fields=summary,title,position,columns")
    assert house == {
        "id": 1,
        "summary": "house 1 ATTIC lite_houses <LiteHouse 1>",
        "title": "#1!",
        "position": 10,
        "columns": ["address", "id", "secret"],  # the deferred column is not loaded
    }
    assert api.ok("/lite_houses/2?fields=summary")["summary"].startswith("house 2 - ")
    assert orm_statements == []


def test_loads_relations_are_set_on_light_entities(api, orm_statements):
    houses = api.data("/lite_houses/?fields=id,cat_names,toy_count")
    assert houses == [
        {"id": 1, "cat_names": ["Felix", "Tom"], "toy_count": 2},  # ordered as declared
        {"id": 2, "cat_names": ["Luna"], "toy_count": 1},
        {"id": 3, "cat_names": [], "toy_count": 0},
    ]
    cats = api.data("/lite_cats/?fields=id,street")
    assert [c["street"] for c in cats] == ["1 Elm Street", "1 Elm Street", "2 Oak Road", None]
    assert orm_statements == []


def test_includes_and_loads_of_the_same_relation_share_one_query(api, orm_statements):
    path = "/lite_houses/?include=cats&fields=id,cat_names&fields[lite_cats]=name,label"
    with api.queries() as statements:
        houses = api.data(path)
    assert len(statements) == 2  # the page (it holds the total), the cats
    assert houses[0] == {
        "id": 1,
        "cat_names": ["Felix", "Tom"],
        "cats": [
            {"id": 2, "name": "Felix", "label": "Felix of house 1"},
            {"id": 1, "name": "Tom", "label": "Tom of house 1"},
        ],
    }
    assert orm_statements == []


def test_each_entity_is_written_once_on_the_light_path(api):
    cats = api.data("/lite_cats/?include=house&fields=id,label&fields[lite_houses]=label")
    assert cats[0]["house"] == {"id": 1, "label": "1 Elm Street (house 1)"}
    assert cats[1]["house"] == 1  # already written: its key
    assert cats[3]["house"] is None


def test_relation_endpoints_and_single_entities_take_the_light_path(api, orm_statements):
    assert api.ok("/lite_cats/3?fields=label,street") == {
        "id": 3,
        "label": "Luna of house 2",
        "street": "2 Oak Road",
    }
    orm_statements.clear()  # the relation endpoint loads its parent with the ORM: its own query
    cats = api.data("/lite_houses/1/cats/?fields=name,label")
    assert cats == [
        {"id": 2, "name": "Felix", "label": "Felix of house 1"},
        {"id": 1, "name": "Tom", "label": "Tom of house 1"},
    ]
    assert all("lite_cats" not in statement for statement in orm_statements)


@pytest.mark.parametrize(
    ("path", "queries"),
    [
        ("/lite_houses/?limit=1000&fields=id,label", 1),  # the page, which holds the total
        ("/lite_houses/?limit=2&fields=id,label", 2),  # the page, the count
        ("/lite_houses/?limit=1000&fields=id,cat_names", 2),  # the page, the cats
        ("/lite_houses/?limit=1000&fields=id,toy_count", 3),  # the page, the cats, their toys
        ("/lite_cats/?limit=1000&fields=id,street", 2),  # the page, the houses
        ("/lite_houses/1?fields=label,cat_names", 2),
    ],
)
def test_query_counts_do_not_grow_with_the_page(api, path, queries):
    assert api.count_queries(path) == queries
    api.insert("lite_houses", *({"id": n, "address": f"{n} Row"} for n in range(10, 60)))
    api.insert("lite_cats", *({"id": n, "name": f"c{n}", "house_id": n} for n in range(10, 60)))
    assert api.count_queries(path) == queries


def test_filtered_sorted_pages_of_plain_properties(api, orm_statements):
    cats = api.data("/lite_cats/?house_id=1&sort=name&fields=name,label")
    assert [c["label"] for c in cats] == ["Felix of house 1", "Tom of house 1"]
    nexts = api.ok("/lite_cats/?sort=-name&limit=2&fields=name,label")
    assert [c["name"] for c in nexts["data"]] == ["Tom", "Stray"]
    after = api.data(nexts["meta"]["next"].removeprefix("/api"))
    assert [c["label"] for c in after] == ["Luna of house 2", "Felix of house 1"]
    assert orm_statements == []


# -- what light entities cannot do: the ORM answers --------------------------------------------
def test_an_undeclared_relation_falls_back_to_entities_once(api, orm_statements, caplog):
    caplog.set_level(logging.WARNING, logger="flasker_api")
    shelters = api.data("/lite_shelters/")
    assert shelters == [
        {"id": 1, "name": "North", "guest_names": ["Ann", "Bob"]},
        {"id": 2, "name": "South", "guest_names": ["Cid"]},
    ]
    warnings = [r.getMessage() for r in caplog.records if "lite_shelters" in r.getMessage()]
    assert len(warnings) == 1
    assert "guests" in warnings[0]
    assert "loads=" in warnings[0]
    assert any("lite_shelters" in statement for statement in orm_statements)

    caplog.clear()
    assert api.data("/lite_shelters/") == shelters  # the ORM path from now on, said once
    assert not [r for r in caplog.records if "lite_shelters" in r.getMessage()]


def test_a_model_with_a_reconstructor_is_read_as_entities(api, orm_statements):
    assert api.data("/lite_boxes/") == [{"id": 1, "size": 4, "doubled": 8}]
    assert orm_statements


def test_a_failing_property_is_a_500_problem_on_any_path(api):
    response = api.get("/lite_guests/")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "Traceback" not in body
    assert "ZeroDivisionError" not in body
    assert api.data("/lite_guests/?id=lt.3&fields=id,ratio") == [
        {"id": 1, "ratio": -0.5},
        {"id": 2, "ratio": -1.0},
    ]
