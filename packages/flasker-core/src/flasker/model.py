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

Beyond SQLAlchemy's own names, `Model` defines only these, so only they are reserved in every
model (a column of the same name would hide them):

- `find_or_create(**filters)` (flasker 0.1's helper): the first row matching, else a new one,
  added to `current_project.db.session` (not committed);
- `column_names()`, `primary_key_names()`, `relationship_names()`: flasker 0.1's helpers
  listing a model's columns, primary keys and relationships, by attribute name;
- `to_dict()`: the column values of one row.
"""

from __future__ import annotations

import re
from typing import Any, Self, cast

from sqlalchemy import MetaData, inspect, select
from sqlalchemy.orm import (
    DeclarativeBase,
    Session,
    declared_attr,
    has_inherited_table,
    scoped_session,
)

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
        # declared_attr passes the class; the plain-function form types `cls` as an instance.
        if has_inherited_table(cast("type[Model]", cls)):
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

    @classmethod
    def find_or_create(cls, **filters: Any) -> Self:
        """The first row whose attributes equal `filters`, else a new instance made from them.

        The new instance is added to `current_project.db.session` but not committed: the
        request or task commits it (AUTOCOMMIT), or the caller does. flasker 0.1 projects
        call it as `House.find_or_create(address="1 Main St")`; it returns the instance only,
        so tell a new row from a found one by `inspect(row).pending`::

            house = House.find_or_create(address="1 Main St")
        """
        from ._stack import require_current

        session: scoped_session[Session] = require_current().db.session
        found = session.scalars(select(cls).filter_by(**filters).limit(1)).first()
        if found is not None:
            return found
        created = cls(**filters)
        session.add(created)
        return created

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        """Attribute names of the model's columns, in mapping order (flasker 0.1's helper)."""
        return tuple(attr.key for attr in inspect(cls).column_attrs)

    @classmethod
    def primary_key_names(cls) -> tuple[str, ...]:
        """Attribute names of the primary key's columns, in key order (flasker 0.1's helper)."""
        mapper = inspect(cls)
        return tuple(mapper.get_property_by_column(column).key for column in mapper.primary_key)

    @classmethod
    def relationship_names(cls) -> tuple[str, ...]:
        """Attribute names of the model's relationships, backrefs included (flasker 0.1's
        helper)."""
        return tuple(inspect(cls).relationships.keys())
