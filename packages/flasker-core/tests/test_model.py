"""`flasker.util.Model`: flasker 0.1's table names, keyword constructor and repr, in both the
0.1 `Column` style and SQLAlchemy 2's `Mapped[...]` style."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, String, create_engine, inspect, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from flasker.util import Model, table_name

pytestmark = pytest.mark.usefixtures("isolated")


@pytest.mark.parametrize(
    ("class_name", "table"),
    [
        ("House", "houses"),
        ("CatToy", "cat_toys"),
        ("Category", "categories"),
        ("MyCat", "my_cats"),
        ("Box", "boxes"),
        ("Bus", "buses"),
        ("Match", "matches"),
        ("Day", "days"),
        ("HTTPRequest", "http_requests"),
        ("Address2", "address2s"),
    ],
)
def test_table_name_is_the_snake_case_plural(class_name: str, table: str) -> None:
    assert table_name(class_name) == table


def test_0_1_column_style_model_gets_its_table_name_keywords_and_repr() -> None:
    class House(Model):
        id = Column(Integer, primary_key=True)
        address = Column(String(128))

    class CatToy(Model):
        id = Column(Integer, primary_key=True)
        name = Column(String(32), nullable=False)
        house_id = Column(ForeignKey("houses.id"))
        house = relationship(House, backref="toys")

    assert House.__tablename__ == "houses"
    assert CatToy.__table__.name == "cat_toys"
    engine = create_engine("sqlite://")
    Model.metadata.create_all(engine)
    with Session(engine) as session:
        house = House(address="1 Main St")
        toy = CatToy(name="mouse", house=house)
        assert repr(house) == "<House transient>"
        session.add(toy)
        assert repr(toy) == "<CatToy pending>"
        session.commit()
        assert repr(house) == f"<House {house.id}>"
        assert session.scalars(select(CatToy.name).where(CatToy.house_id == house.id)).all() == [
            "mouse"
        ]
        assert house.toys == [toy]
        assert toy.to_dict() == {"id": toy.id, "name": "mouse", "house_id": house.id}
    engine.dispose()


def test_sqlalchemy_2_mapped_style_model() -> None:
    class Category(Model):
        id: Mapped[int] = mapped_column(primary_key=True)
        label: Mapped[str] = mapped_column(String(40))
        parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
        children: Mapped[list[Category]] = relationship(back_populates="parent")
        parent: Mapped[Category | None] = relationship(
            back_populates="children", remote_side="Category.id"
        )

    assert Category.__tablename__ == "categories"
    columns = {c["name"]: c for c in _columns(Category)}
    assert columns["label"]["nullable"] is False
    assert columns["parent_id"]["nullable"] is True
    engine = create_engine("sqlite://")
    Model.metadata.create_all(engine)
    with Session(engine) as session:
        root = Category(label="pets", children=[Category(label="cats"), Category(label="dogs")])
        session.add(root)
        session.commit()
        assert sorted(c.label for c in root.children) == ["cats", "dogs"]
        assert repr(root) == f"<Category {root.id}>"
    engine.dispose()


def _columns(model: type) -> list[dict]:
    engine = create_engine("sqlite://")
    Model.metadata.create_all(engine)
    try:
        return inspect(engine).get_columns(model.__tablename__)
    finally:
        engine.dispose()


def test_keyword_constructor_refuses_unknown_attributes() -> None:
    class Box(Model):
        id = Column(Integer, primary_key=True)

    with pytest.raises(TypeError, match="colour"):
        Box(colour="red")


def test_composite_primary_key_repr() -> None:
    class Pair(Model):
        left = Column(Integer, primary_key=True)
        right = Column(Integer, primary_key=True)

    engine = create_engine("sqlite://")
    Model.metadata.create_all(engine)
    with Session(engine) as session:
        pair = Pair(left=1, right=2)
        session.add(pair)
        session.commit()
        assert repr(pair) == "<Pair 1,2>"
    engine.dispose()


def test_explicit_tablename_wins_and_subclass_shares_the_parent_table() -> None:
    class Animal(Model):
        __tablename__ = "zoo"
        id = Column(Integer, primary_key=True)
        kind = Column(String(10))
        __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "animal"}

    class Dog(Animal):
        __mapper_args__ = {"polymorphic_identity": "dog"}

    assert Animal.__table__.name == "zoo"
    assert Dog.__table__ is Animal.__table__


def test_naming_convention_names_constraints() -> None:
    class Owner(Model):
        id = Column(Integer, primary_key=True)
        email = Column(String(64), unique=True)

    constraints = {c.name for c in Owner.__table__.constraints}
    assert {"pk_owners", "uq_owners_email"} <= constraints


def test_isolation_forgets_models_of_earlier_tests() -> None:
    # test_0_1_column_style... defined `House`; a new one must not clash with it
    class House(Model):
        id = Column(Integer, primary_key=True)

    assert House.__table__.name == "houses"
    assert Model.metadata.tables["houses"] is House.__table__
