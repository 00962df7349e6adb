"""House and Cat, the models of flasker 0.1's README, in 0.1's `Column` style.

The example seeds a few rows the moment its tables are created (SQLAlchemy's `after_create`
event), rather than "whenever the houses table is empty" at start-up: tables are created once, by
whichever process starts first (the server or its embedded worker), so the rows cannot be added
twice, and houses a user deleted never come back. With Alembic migrations (`flasker db init`)
tables are created by migrations instead and nothing is seeded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Integer, Unicode, event, insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import relationship

from flasker.util import Model


class House(Model):
    """A house (table `houses`); `house.cats` lists the cats living there."""

    id = Column(Integer, primary_key=True)
    address = Column(Unicode(128), nullable=False)

    cats = relationship("Cat", back_populates="house", order_by="Cat.name")


class Cat(Model):
    """A cat (table `cats`), known by its name; it lives in at most one house."""

    name = Column(Unicode(64), primary_key=True)
    color = Column(Unicode(32))
    age = Column(Integer)
    # indexed: a house's cats (its page, `cat_count`, `include=cats`) are found by this column,
    # and neither SQLite nor PostgreSQL indexes a foreign key by itself
    house_id = Column(ForeignKey("houses.id"), index=True)

    house = relationship("House", back_populates="cats")


HOUSES = [
    {"id": 1, "address": "1 Rue des Chats, Paris"},
    {"id": 2, "address": "42 Wallaby Way, Sydney"},
    {"id": 3, "address": "221B Baker Street, London"},
]
CATS = [
    {"name": "Felix", "color": "black", "age": 3, "house_id": 1},
    {"name": "Garfield", "color": "orange", "age": 7, "house_id": 1},
    {"name": "Tom", "color": "grey", "age": 5, "house_id": 2},
    {"name": "Salem", "color": "black", "age": 12, "house_id": 3},
    {"name": "Mittens", "color": "white", "age": 1, "house_id": 3},
    {"name": "Luna", "color": "tabby", "age": 2, "house_id": 3},
]


@event.listens_for(Cat.__table__, "after_create")
def seed(_table: Any, connection: Connection, **_kw: Any) -> None:
    """Fill the new tables with the example's houses and cats (cats' table is created last).

    The database numbers the houses: an explicit id would leave PostgreSQL's sequence behind
    the rows, and the first house added afterwards would collide with house 1. The ids above
    only say which house each cat lives in."""
    numbered = {}
    for house in HOUSES:
        added = connection.execute(insert(House).values(address=house["address"]))
        numbered[house["id"]] = added.inserted_primary_key[0]
    connection.execute(insert(Cat), [{**c, "house_id": numbered[c["house_id"]]} for c in CATS])
