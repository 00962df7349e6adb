"""Running a read plan (read_plan.py): one entity or a page from plain rows, the relation
queries chunked like `selectinload`, and `NeedsEntity` when a plain property fails on a light
entity. The standard houses and cats, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flasker_api import read_plan
from flasker_api.light import NeedsEntity
from flasker_api.query import ListQuery
from flasker_api.reader import ReadPlans
from flasker_api.selection import Selection
from flasker_api.statements import page_statement

HOUSE_1 = {
    "id": 1,
    "address": "1 Rue des Chats, Paris",
    "label": "House 1: 1 Rue des Chats, Paris",
    "cat_count": 2,
}


def plan_of(api, model: str, selection: Selection):
    manager = api.module.api
    info = manager.info_for(getattr(api.module, model))
    return info, ReadPlans(manager.info_for).get(info, selection)


def test_one_entity_found_by_an_attribute(api):
    _info, plan = plan_of(api, "House", Selection())
    with api.engine.connect() as connection:
        row = connection.execute(plan.by(("address",)), {"k0": HOUSE_1["address"]}).one()
        assert plan.one(connection, row) == HOUSE_1


def test_one_entity_with_its_relation(api):
    selection = Selection(fields=(("cats", frozenset({"age"})),), include=(("cats", ()),))
    _info, plan = plan_of(api, "House", selection)
    with api.engine.connect() as connection:
        row = connection.execute(plan.by(("id",)), {"k0": 1}).one()
        house = plan.one(connection, row)
    assert house["cats"] == [{"name": "Felix", "age": 3}, {"name": "Garfield", "age": 7}]


def read_houses(api, plan, info):
    with api.queries() as statements, api.engine.connect() as connection:
        statement = page_statement(info, ListQuery(limit=10), (), columns=plan.columns)
        data = plan.many(connection, connection.execute(statement).all())
    return data, len(statements)


def test_relation_rows_are_read_in_chunks_of_keys(api, monkeypatch):
    info, plan = plan_of(api, "House", Selection())
    data, queries = read_houses(api, plan, info)
    assert ([h["cat_count"] for h in data], queries) == ([2, 1, 3, 0], 2)
    monkeypatch.setattr(read_plan, "CHUNK", 3)
    data, queries = read_houses(api, plan, info)
    assert ([h["cat_count"] for h in data], queries) == ([2, 1, 3, 0], 3)  # 4 keys: 3 + 1


def test_a_row_key_not_found_reads_as_no_relation(api):
    _info, plan = plan_of(api, "Cat", Selection(include=(("house", ()),)))
    with api.engine.connect() as connection:
        row = connection.execute(plan.by(("name",)), {"k0": "Ghost"}).one()
        assert plan.one(connection, row)["house"] is None


FRAGILE = """
    from sqlalchemy import Column, Integer, inspect

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True))


    class RpGlass(Model):
        __tablename__ = "rp_glasses"
        id = Column(Integer, primary_key=True)

        @property
        def state(self) -> str:
            return "persistent" if inspect(self).persistent else "new"  # needs the ORM
"""


def test_a_property_that_needs_the_orm_raises_needs_entity(make_api):
    site = make_api(FRAGILE, {"rp_glasses": [{"id": 1}]})
    manager = site.module.api
    info = manager.info_for(site.module.RpGlass)
    plan = ReadPlans(manager.info_for).get(info, Selection())
    with site.engine.connect() as connection:
        rows = connection.execute(sa.select(*plan.columns)).all()
        with pytest.raises(NeedsEntity, match=r"^NoInspectionAvailable: "):
            plan.many(connection, rows)
