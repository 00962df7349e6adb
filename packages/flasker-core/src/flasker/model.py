"""`Model`: the declarative base every project model derives from.

Kept from flasker 0.1: table names are derived from class names (`House` → `houses`,
`CatToy` → `cat_toys`, `Category` → `categories`), a keyword constructor, and a readable repr.
Both the classic `Column` style and SQLAlchemy 2's `Mapped[...]` style work::

    class House(Model):
        id = Column(Integer, primary_key=True)
        address = Column(Unicode(128))

    class Cat(Model):
        name: Mapped[str] = mapped_column(String(64), primary_key=True)
        house_id: Mapped[int | None] = mapped_column(ForeignKey("houses.id"))
        house: Mapped[House | None] = relationship(backref="cats")

A subclass of a mapped model with no `__tablename__` of its own shares its parent's table
(single-table inheritance); give it a `__tablename__` for joined-table inheritance.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import MetaData, inspect
from sqlalchemy.orm import DeclarativeBase, declared_attr, has_inherited_table

#: Constraint names that Alembic autogenerate and every database can reproduce.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def table_name(class_name: str) -> str:
    """snake_case plural of a class name, as flasker 0.1 named tables."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])|(?<=[A-Z])([A-Z])(?=[a-z])", r"_\1\2", class_name)
    snake = snake.lower()
    if re.search(r"[^aeiou]y$", snake):
        return snake[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", snake):
        return snake + "es"
    return snake + "s"


class Model(DeclarativeBase):
    """Declarative base with automatic table names, a keyword constructor and a readable repr."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    @declared_attr.directive
    def __tablename__(cls) -> str | None:
        if has_inherited_table(cls):
            return None
        return table_name(cls.__name__)

    def __repr__(self) -> str:
        state = inspect(self)
        if state.identity is not None:
            key = ",".join(str(value) for value in state.identity)
        else:
            key = "transient" if state.transient else "pending"
        return f"<{type(self).__name__} {key}>"

    def to_dict(self) -> dict[str, Any]:
        """Column values by attribute name (no relationships): handy in shells and tasks."""
        mapper = inspect(type(self))
        return {attr.key: getattr(self, attr.key) for attr in mapper.column_attrs}
