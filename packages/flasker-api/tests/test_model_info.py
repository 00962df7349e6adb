"""What the API knows about a model (model_info.py), read from real mapped classes: the
collection name, the key, the fields with their bounds, the relations and the properties."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, Integer, Unicode
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column, relationship

from flasker_api.model_info import (
    ALL_METHODS,
    FieldInfo,
    RelationInfo,
    api_property,
    build_model_info,
    collection_name,
)


class Base(DeclarativeBase):
    pass


tagging = sa.Table(
    "taggings",
    Base.metadata,
    sa.Column("barn_id", ForeignKey("barns.id"), primary_key=True),
    sa.Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Barn(Base):
    """A barn.

    Holds cows."""

    __tablename__ = "barns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(40), unique=True, doc="What the farm calls it")
    size: Mapped[int | None] = mapped_column(sa.SmallInteger, server_default="3")
    cows: Mapped[list[Cow]] = relationship(back_populates="barn", order_by="Cow.id")
    tags: Mapped[list[Tag]] = relationship(secondary=tagging, viewonly=True)
    cow_total = column_property(sa.literal(0))  # an expression, not a column: not a field

    @property
    @api_property(count="cows")
    def cow_count(self) -> int:
        return len(self.cows)


class Cow(Base):
    __tablename__ = "cows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(20))
    barn_id: Mapped[int | None] = mapped_column(ForeignKey("barns.id"))
    barn: Mapped[Barn | None] = relationship(back_populates="cows")
    calves = relationship("Cow", lazy="dynamic")
    mother_id: Mapped[int | None] = mapped_column(ForeignKey("cows.id"))


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Unicode(10))


class Stall(Base):
    __tablename__ = "stalls"
    barn_id: Mapped[int] = mapped_column(ForeignKey("barns.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)


class Animal(Base):
    __tablename__ = "animals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(Unicode(10))
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "animal"}


class BarnOwl(Animal):  # single-table inheritance: its own collection name
    __mapper_args__ = {"polymorphic_identity": "owl"}


BARN = build_model_info(Barn)
COW = build_model_info(Cow)


def test_the_collection_is_the_table_name():
    assert (BARN.collection, BARN.name) == ("barns", "Barn")
    assert collection_name(Cow) == "cows"
    assert collection_name(BarnOwl) == "barn_owls"


def test_key_lookups_and_description():
    assert BARN.primary_key == ("id",)
    assert BARN.lookups == ("name",)
    assert BARN.description == "A barn."
    assert COW.description is None
    assert build_model_info(Stall).is_composite


def test_fields_with_their_bounds():
    assert list(BARN.fields) == ["id", "name", "size"]
    assert BARN.fields["id"] == FieldInfo(
        name="id", column_name="id", json_type="integer", nullable=False, primary_key=True,
        unique=True, has_default=True, autoincrement=True, minimum=-(2**31),
        maximum=2**31 - 1, python_type=int, sql_type="INTEGER",
    )  # fmt: skip
    name = BARN.fields["name"]
    assert (name.max_length, name.unique, name.required) == (40, True, True)
    assert name.description == "What the farm calls it"
    size = BARN.fields["size"]
    assert (size.minimum, size.maximum, size.has_default, size.required) == (
        -32768,
        32767,
        True,
        False,
    )
    assert COW.fields["barn_id"].foreign_key


def test_relations():
    assert BARN.relations["cows"] == RelationInfo(
        name="cows", target=Cow, target_collection="cows", uselist=True,
        direction="one_to_many",
    )  # fmt: skip
    assert BARN.relations["tags"].direction == "many_to_many"
    assert BARN.relations["tags"].read_only
    barn = COW.relations["barn"]
    assert (barn.uselist, barn.direction, barn.local_fields) == (False, "many_to_one", ("barn_id",))
    assert COW.relations["calves"].is_dynamic


def test_properties_and_attributes():
    assert list(BARN.properties) == ["cow_count"]
    assert BARN.properties["cow_count"].count == "cows"
    assert BARN.attributes == ["id", "name", "size", "cow_count"]


def test_methods_relationships_and_exclude():
    info = build_model_info(
        Barn, methods=["get", "post"], relationships=["cows"], exclude=["size", "cow_count"]
    )
    assert info.sorted_methods == ["GET", "POST"]
    assert (info.allows("GET"), info.allows("DELETE")) == (True, False)
    assert list(info.relations) == ["cows"]
    assert list(info.fields) == ["id", "name"]
    assert info.properties == {}
    assert BARN.sorted_methods == list(ALL_METHODS)


def test_an_unknown_relationship_is_refused():
    message = "Barn has no relationship hens"
    with pytest.raises(ValueError, match=exactly(message)):
        build_model_info(Barn, relationships=["cows", "hens"])


def test_a_property_counting_a_missing_relation_is_refused():
    getter = api_property(count="barn")(lambda self: 0)
    with pytest.raises(
        ValueError,
        match=exactly("Cow.n declares count='barn', but Cow has no to-many relationship 'barn'"),
    ):
        build_model_info(Cow, extra_properties=[("n", getter, getter.__flasker_api_property__)])


def test_a_property_loading_a_missing_relation_is_refused():
    options = api_property(loads=["hay"])(lambda self: 0).__flasker_api_property__
    with pytest.raises(
        ValueError, match=exactly("Cow.n declares loads=['hay'], but Cow has no relationship 'hay'")
    ):
        build_model_info(Cow, extra_properties=[("n", lambda self: 0, options)])


def exactly(message: str) -> str:
    """A `match=` pattern for exactly this message."""
    return f"^{re.escape(message)}$"
