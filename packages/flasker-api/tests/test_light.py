"""Light entities (light.py): a row that answers attribute reads like its model's instance, so
a plain property runs without an ORM entity; and the models it cannot stand in for."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import ForeignKey, Integer, Unicode
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    deferred,
    mapped_column,
    reconstructor,
    relationship,
)

from flasker_api.light import NeedsEntity, light_class, light_columns, supports_light
from flasker_api.model_info import build_model_info


class Base(DeclarativeBase):
    pass


class Kennel(Base):
    """A kennel."""

    __tablename__ = "l_kennels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(20))
    count: Mapped[int] = mapped_column(Integer)  # shadows tuple.count
    notes: Mapped[str | None] = deferred(mapped_column(sa.Text))
    dogs: Mapped[list[Pup]] = relationship()
    SIGN = "Woof"

    @property
    def label(self) -> str:
        return f"{self.SIGN}: {self.name.upper()} ({self.count})"

    @property
    def dog_names(self) -> list[str]:
        return [d.name for d in self.dogs]

    def __str__(self) -> str:
        return f"kennel {self.name}"


class Pup(Base):
    __tablename__ = "l_pups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kennel_id: Mapped[int] = mapped_column(ForeignKey("l_kennels.id"))


class Sly(Base):
    __tablename__ = "l_slies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


class Rebuilt(Base):
    __tablename__ = "l_rebuilts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)

    @reconstructor
    def loaded(self) -> None:
        self.ready = True


KENNEL = build_model_info(Kennel)
LightKennel = light_class(KENNEL, light_columns(KENNEL))


def test_the_columns_a_light_entity_carries_leave_out_deferred_ones():
    assert light_columns(KENNEL) == ["id", "name", "count"]


def test_a_row_reads_like_the_model():
    kennel = LightKennel((1, "north", 3))
    assert (kennel.id, kennel.name, kennel.count) == (1, "north", 3)
    assert kennel.label == "Woof: NORTH (3)"
    assert str(kennel) == "kennel north"
    assert repr(kennel) == "<Kennel 1>"
    assert isinstance(kennel, Kennel)
    assert kennel.to_dict() == {"id": 1, "name": "north", "count": 3}
    assert kennel == (1, "north", 3)  # still the row: no copy


def test_what_was_not_loaded_needs_an_entity():
    kennel = LightKennel((1, "north", 3))
    with pytest.raises(NeedsEntity, match=r"^Kennel\.dogs is not loaded \(declare it in loads=\)$"):
        kennel.dog_names  # noqa: B018
    with pytest.raises(NeedsEntity, match=r"^Kennel\.notes is not loaded"):
        kennel.notes  # noqa: B018
    with pytest.raises(AttributeError, match=r"^'Kennel' object has no attribute 'nope'$"):
        kennel.nope  # noqa: B018


def test_a_relation_set_on_the_entity_is_read():
    kennel = LightKennel((1, "north", 3))
    kennel.__dict__["dogs"] = [SimpleNamespace(name="Rex")]  # as the reader sets loads=
    assert kennel.dog_names == ["Rex"]


def test_models_that_change_attribute_reads_or_loading_stay_on_the_orm_path():
    assert supports_light(Kennel, KENNEL.mapper)
    assert not supports_light(Sly, build_model_info(Sly).mapper)
    assert not supports_light(Rebuilt, build_model_info(Rebuilt).mapper)
