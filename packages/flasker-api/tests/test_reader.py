"""Reads without ORM entities (reader.py): plans kept per shape, pages written from plain rows
with their included relations and the properties the database or Python computes, and the SQL
properties of ORM entities for the ORM path. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from flasker_api.query import ListQuery
from flasker_api.reader import ReadPlans, entity_values
from flasker_api.selection import Selection
from flasker_api.statements import page_statement

MODELS = """
    from __future__ import annotations

    from sqlalchemy import Column, ForeignKey, Integer, Unicode
    from sqlalchemy.orm import relationship

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True))


    class RdHouseTag(Model):
        __tablename__ = "rd_house_tags"
        house_id = Column(ForeignKey("rd_houses.id"), primary_key=True)
        tag_id = Column(ForeignKey("rd_tags.id"), primary_key=True)


    class RdHouse(Model):
        __tablename__ = "rd_houses"
        id = Column(Integer, primary_key=True)
        address = Column(Unicode(64), nullable=False)

        cats = relationship("RdCat", back_populates="house", order_by="RdCat.id")
        tags = relationship("RdTag", secondary="rd_house_tags", order_by="RdTag.label")

        @property
        def label(self) -> str:
            return f"House {self.id}"

        @property
        @api.property(count="cats")
        def cat_count(self) -> int:
            return len(self.cats)

        @property
        @api.property(loads=["cats"])
        def cat_names(self) -> str:
            return ", ".join(c.name for c in self.cats)


    class RdCat(Model):
        __tablename__ = "rd_cats"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(32), nullable=False)
        house_id = Column(ForeignKey("rd_houses.id"))

        house = relationship("RdHouse", back_populates="cats")


    class RdTag(Model):
        __tablename__ = "rd_tags"
        id = Column(Integer, primary_key=True)
        label = Column(Unicode(32), nullable=False)
"""

SEED = {
    "rd_houses": [{"id": 1, "address": "Elm"}, {"id": 2, "address": "Oak"}],
    "rd_cats": [
        {"id": 1, "name": "Felix", "house_id": 1},
        {"id": 2, "name": "Tom", "house_id": 1},
        {"id": 3, "name": "Luna", "house_id": None},
    ],
    "rd_tags": [{"id": 1, "label": "garden"}, {"id": 2, "label": "attic"}],
    "rd_house_tags": [{"house_id": 1, "tag_id": 1}, {"house_id": 1, "tag_id": 2}],
}


@pytest.fixture(scope="module")
def site(make_api):
    return make_api(MODELS, SEED)


@pytest.fixture
def reader(site):
    site.reseed()
    manager = site.module.api
    return Reader(site, ReadPlans(manager.info_for), manager.info_for)


class Reader:
    """Reads pages of a collection through a fresh `ReadPlans`, counting queries."""

    def __init__(self, site: Any, plans: ReadPlans, lookup: Any) -> None:
        self.site, self.plans, self.lookup = site, plans, lookup

    def info(self, name: str) -> Any:
        return self.lookup(getattr(self.site.module, name))

    def page(self, name: str, selection: Selection | None = None) -> tuple[list[Any], int]:
        info = self.info(name)
        plan = self.plans.get(info, selection or Selection())
        assert plan is not None
        with self.site.queries() as statements, self.site.engine.connect() as connection:
            statement = page_statement(info, ListQuery(limit=10), (), columns=plan.columns)
            data = plan.many(connection, connection.execute(statement).all())
        return data, len(statements)


HOUSE_1 = {"id": 1, "address": "Elm", "label": "House 1", "cat_count": 2, "cat_names": "Felix, Tom"}
HOUSE_2 = {"id": 2, "address": "Oak", "label": "House 2", "cat_count": 0, "cat_names": ""}


def test_a_page_with_every_kind_of_property(reader):
    # the page (with cat_count counted in it), then the cats cat_names loads
    assert reader.page("RdHouse") == ([HOUSE_1, HOUSE_2], 2)


def test_included_relations_are_one_query_each(reader):
    data, queries = reader.page(
        "RdHouse",
        Selection(fields=(("rd_houses", frozenset({"address"})),), include=(("tags", ()),)),
    )
    assert data == [
        {
            "id": 1,  # the key is always shown
            "address": "Elm",
            "tags": [{"id": 2, "label": "attic"}, {"id": 1, "label": "garden"}],
        },
        {"id": 2, "address": "Oak", "tags": []},
    ]
    assert queries == 2


def test_an_entity_seen_before_is_written_as_its_key(reader):
    data, queries = reader.page("RdCat", Selection(include=(("house", ()),)))
    assert [cat["house"] for cat in data] == [HOUSE_1, 1, None]
    assert queries == 3  # cats, their houses, the houses' cats (cat_names)


def test_plans_are_built_once_per_shape(reader):
    info = reader.info("RdHouse")
    plan = reader.plans.get(info, Selection())
    assert reader.plans.get(info, Selection()) is plan
    assert reader.plans.get(info, Selection(), ("address",)) is not plan


def test_a_demoted_shape_is_answered_by_the_orm(reader):
    info = reader.info("RdHouse")
    reader.plans.demote(info, Selection())
    assert reader.plans.get(info, Selection()) is None
    assert reader.plans.get(info, Selection(include=(("cats", ()),))) is not None


def test_entity_values_reads_the_sql_properties_of_entities(reader, site):
    info = reader.info("RdHouse")
    session = site.project.db.session
    try:
        houses = session.execute(sa.select(info.model).order_by(info.model.id)).scalars().all()
        with site.queries() as statements:
            values = entity_values(reader.plans, session, info, Selection(), houses, reader.lookup)
        assert values == {id(houses[0]): (2,), id(houses[1]): (0,)}
        assert len(statements) == 1
        address_only = Selection(fields=(("rd_houses", frozenset({"address"})),))
        assert (
            entity_values(reader.plans, session, info, address_only, houses, reader.lookup) is None
        )
    finally:
        site.project.db.remove()
