"""Building read plans (plan_builder.py): the columns each model of the include tree reads, the
relation edges and their statements, the compiled row functions, and the shapes it leaves to
the ORM path (None)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import ForeignKey, Integer, Unicode
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flasker_api.model_info import api_property, build_model_info
from flasker_api.plan_builder import PlanBuilder
from flasker_api.selection import Selection
from flasker_api.statements import property_expression


class Base(DeclarativeBase):
    pass


shelving = sa.Table(
    "pb_shelving",
    Base.metadata,
    sa.Column("room_id", ForeignKey("pb_rooms.id"), primary_key=True),
    sa.Column("shelf_id", ForeignKey("pb_shelves.id"), primary_key=True),
)


class Room(Base):
    __tablename__ = "pb_rooms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(20))
    photo: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    lamps: Mapped[list[Lamp]] = relationship(back_populates="room", order_by="Lamp.id")
    shelves: Mapped[list[Shelf]] = relationship(secondary=shelving)

    @property
    def title(self) -> str:
        return self.name.title()

    @property
    @api_property(loads=["lamps"])
    def lamp_count(self) -> int:
        return len(self.lamps)

    @property
    @api_property(loads=["shelves"])
    def shelf_count(self) -> int:
        return len(self.shelves)


class Lamp(Base):
    __tablename__ = "pb_lamps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room_id: Mapped[int | None] = mapped_column(ForeignKey("pb_rooms.id"))
    room: Mapped[Room | None] = relationship(back_populates="lamps")


class Shelf(Base):
    __tablename__ = "pb_shelves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Odd(Base):  # answers attribute reads itself: light entities cannot stand in for it
    __tablename__ = "pb_odds"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)

    @property
    def doubled(self) -> int:
        return self.id * 2


INFOS = {model: build_model_info(model) for model in (Room, Lamp, Shelf, Odd)}
ROOM = INFOS[Room]


def build(info: Any, selection: Selection, lookup: Any = INFOS.get) -> Any:
    builder = PlanBuilder(property_expression, selection, lookup)
    root = builder.node(info, selection.include, [])
    return None if root is None else builder.plan(root)


def fields(collection: str, *names: str) -> tuple[tuple[str, frozenset[str]], ...]:
    return ((collection, frozenset(names)),)


def test_a_node_reads_the_key_then_the_shown_columns():
    plan = build(ROOM, Selection(fields=fields("pb_rooms", "name")))
    assert plan.root.names == ["id", "name"]
    assert (plan.nests, plan.light) == (False, False)


def test_compiled_rows_show_the_fields_asked_for_in_model_order():
    plan = build(ROOM, Selection(fields=fields("pb_rooms", "photo", "name")))
    assert plan.root.names == ["id", "name", "photo"]
    rows = [(1, "Hall", b"hi"), (2, "Den", None)]
    assert plan.many(None, rows) == [
        {"id": 1, "name": "Hall", "photo": "aGk="},  # bytes as base64
        {"id": 2, "name": "Den", "photo": None},
    ]


def test_a_plain_property_makes_rows_light_entities():
    plan = build(ROOM, Selection(fields=fields("pb_rooms", "title")))
    assert plan.light
    assert plan.many(None, [(1, "great hall")]) == [{"id": 1, "title": "Great Hall"}]


def test_a_many_to_one_edge_maps_one_key_to_one_row():
    lamp_plan = build(
        INFOS[Lamp], Selection(include=(("room", ()),), fields=fields("pb_rooms", "name"))
    )
    (edge,) = lamp_plan.edges
    assert (edge.name, edge.uselist, edge.by_key, edge.skip, edge.shown) == (
        "room",
        False,
        True,
        0,
        True,
    )
    assert lamp_plan.root.names[edge.parent_key[0]] == "room_id"


def test_a_secondary_relation_reads_through_a_join_keyed_by_the_parent():
    plan = build(ROOM, Selection(include=(("shelves", ()),), fields=fields("pb_rooms", "name")))
    (edge,) = plan.edges
    assert (edge.uselist, edge.by_key, edge.skip, edge.child_key) == (True, False, 1, (0,))
    assert "JOIN pb_shelving" in str(edge.statement)


def test_a_relation_a_property_loads_is_read_and_attached_but_not_shown():
    plan = build(ROOM, Selection(fields=fields("pb_rooms", "lamp_count")))
    (edge,) = plan.edges
    assert (edge.name, edge.shown, edge.attached) == ("lamps", False, True)
    assert not plan.writes_nested


def test_a_model_light_entities_cannot_stand_in_for_is_left_to_the_orm():
    assert build(INFOS[Odd], Selection()) is None
    assert build(INFOS[Odd], Selection(fields=fields("pb_odds", "id"))) is not None


def test_a_property_loading_a_model_the_api_does_not_expose_is_left_to_the_orm():
    without_shelves = {Room: ROOM, Lamp: INFOS[Lamp]}.get
    selection = Selection(fields=fields("pb_rooms", "shelf_count"))
    assert build(ROOM, selection, without_shelves) is None
    assert build(ROOM, selection) is not None
