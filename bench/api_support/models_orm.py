"""House and Cat as plain SQLAlchemy ORM models, for the peers' environments.

The same tables as `common.metadata` (and as `bench_models` declares for flasker-api); `cat_count`
is the relation-counting property of W6, a plain `@property` as a peer's user would write it.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, Unicode
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class House(Base):
    __tablename__ = "houses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(Unicode(128))
    cats: Mapped[list[Cat]] = relationship(back_populates="house", order_by="Cat.id")

    @property
    def cat_count(self) -> int:
        return len(self.cats)


class Cat(Base):
    __tablename__ = "cats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Unicode(64))
    color: Mapped[str | None] = mapped_column(Unicode(32))
    age: Mapped[int | None] = mapped_column(Integer)
    house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"), index=True)
    house: Mapped[House | None] = relationship(back_populates="cats")
