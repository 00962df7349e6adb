"""What a response shows (selection.py): `include=` / `depth=` trees and `fields=` per type,
validated against real models."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, Integer, Unicode
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flasker_api.model_info import build_model_info
from flasker_api.problems import ProblemCollector
from flasker_api.selection import Selection, depth_tree, parse_selection


class Base(DeclarativeBase):
    pass


class Farm(Base):
    __tablename__ = "s_farms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(20))
    hens: Mapped[list[Hen]] = relationship(back_populates="farm")
    visits = relationship("Visit", lazy="dynamic")

    @property
    def title(self) -> str:
        return self.name


class Hen(Base):
    __tablename__ = "s_hens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(20))
    farm_id: Mapped[int | None] = mapped_column(ForeignKey("s_farms.id"))
    farm: Mapped[Farm | None] = relationship(back_populates="hens")
    eggs: Mapped[list[Egg]] = relationship()


class Egg(Base):
    __tablename__ = "s_eggs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hen_id: Mapped[int] = mapped_column(ForeignKey("s_hens.id"))


class Visit(Base):
    __tablename__ = "s_visits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    farm_id: Mapped[int] = mapped_column(ForeignKey("s_farms.id"))


INFOS = {model: build_model_info(model) for model in (Farm, Hen, Egg, Visit)}
FARM = INFOS[Farm]


def parsed(parameters: dict[str, str]) -> tuple[Selection, list[dict[str, Any]]]:
    """`parse_selection` of these parameters on farms (default depth 0, at most 2)."""
    problems = ProblemCollector()
    by_name = {name: [value] for name, value in parameters.items()}
    selection = parse_selection(by_name, FARM, INFOS.get, 0, 2, problems)
    return selection, problems.errors


def test_nothing_asked_shows_every_field_and_no_relation():
    assert parsed({}) == (Selection(), [])


def test_include_paths_become_a_sorted_tree():
    assert parsed({"include": "hens.eggs, hens.farm,hens"}) == (
        Selection(include=(("hens", (("eggs", ()), ("farm", ()))),)),
        [],
    )


def test_depth_includes_every_loadable_relation():
    selection, errors = parsed({"depth": "1"})
    assert (selection.include, errors) == ((("hens", ()),), [])  # not the dynamic visits
    assert depth_tree(FARM, INFOS.get, 2) == (("hens", (("eggs", ()), ("farm", ()))),)


def test_fields_per_type():
    selection, errors = parsed(
        {"include": "hens", "fields": "name,title", "fields[s_hens]": "name"}
    )
    assert errors == []
    assert selection.fields_for("s_farms") == frozenset({"name", "title"})
    assert selection.fields_for("s_hens") == frozenset({"name"})
    assert selection.fields_for("s_eggs") is None


def test_fields_of_a_related_type_not_included_is_accepted():
    assert parsed({"fields[s_hens]": "name"})[1] == []


def error(parameter: str, message: str) -> list[dict[str, str]]:
    return [{"parameter": parameter, "message": message}]


def test_bad_selections_say_what_is_wrong():
    assert parsed({"include": "hens", "depth": "1"})[1] == error(
        "depth", "give either include or depth, not both"
    )
    assert parsed({"depth": "3"})[1] == error("depth", "at most 2")
    assert parsed({"include": "hens.eggs.hen"})[1] == error(
        "include", "hens.eggs.hen: deeper than 2 levels"
    )
    assert parsed({"include": "cows"})[1] == error(
        "include", "cows: s_farms has no relation 'cows' (relations: hens, visits)"
    )
    assert parsed({"include": "visits"})[1] == error(
        "include", "visits: visits is a dynamic relation; use its own endpoint"
    )
    assert parsed({"fields": "hens"})[1] == error("fields", "hens is a relation: use include=hens")
    assert parsed({"fields": "colour"})[1] == error(
        "fields", "s_farms has no field 'colour' (id, name, title)"
    )
    assert parsed({"fields[s_cows]": "id"})[1] == error(
        "fields[s_cows]", "no included type 's_cows' (types in this response: s_farms)"
    )
