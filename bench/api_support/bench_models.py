"""The benchmark's flasker project: House and Cat on `flasker.util.Model`, every model exposed.

`House.cat_count` is counted by the database (`count="cats"`); `LoadedHouse` maps the same
table with the `loads=` form of the property, for W6L. `PlainHouse` and `PlainCat` map the same
tables again as flasker 0.1 users write models: a plain `@property` (`label`) with no API
declaration at all (the P workloads). Imported by `Project.start()`
([PROJECT] MODULES = bench_models in the cfg run_flasker.py writes). The tables match
`common.metadata`, which creates and fills them before the project starts.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, Unicode
from sqlalchemy.orm import relationship

from flasker import current_project
from flasker.ext.api import APIManager
from flasker.util import Model

api = current_project.register_manager(APIManager(add_all_models=True))


class House(Model):
    id = Column(Integer, primary_key=True)
    address = Column(Unicode(128), nullable=False)

    cats = relationship("Cat", back_populates="house", order_by="Cat.id")

    @property
    @api.property(count="cats")  # counted by the database, in the page's query
    def cat_count(self) -> int:
        return len(self.cats)


class Cat(Model):
    id = Column(Integer, primary_key=True)
    name = Column(Unicode(64), nullable=False)
    color = Column(Unicode(32))
    age = Column(Integer)
    house_id = Column(ForeignKey("houses.id"), index=True)

    house = relationship("House", back_populates="cats")


class LoadedHouse(Model):
    """The same houses with `cat_count` computed in Python over `loads=["cats"]` (W6L): one
    extra query per page, 1,000 cat entities built for 100 houses."""

    __table__ = House.__table__

    cats = relationship("Cat", viewonly=True, order_by="Cat.id")

    @property
    @api.property(loads=["cats"])
    def cat_count(self) -> int:
        return len(self.cats)


api.add_model(LoadedHouse, collection="loaded_houses", methods=["GET"])


class PlainHouse(Model):
    """Houses as a flasker 0.1 model: `label` is a plain `@property` (P workloads)."""

    __table__ = House.__table__

    cats = relationship("PlainCat", viewonly=True, order_by="PlainCat.id")

    @property
    def label(self) -> str:
        return f"{self.address} (house {self.id})"

    @property
    @api.property(count="cats")
    def cat_count(self) -> int:
        return len(self.cats)


class PlainCat(Model):
    """Cats as a flasker 0.1 model: `label` is a plain `@property` (P workloads)."""

    __table__ = Cat.__table__

    house = relationship("PlainHouse", viewonly=True)

    @property
    def label(self) -> str:
        return f"{self.name}, {self.color}"


api.add_model(PlainHouse, collection="plain_houses", methods=["GET"])
api.add_model(PlainCat, collection="plain_cats", methods=["GET"])
