"""flask-smorest next to the hand-written baseline, in flask-smorest's own environment.

    uv run --isolated --no-project --with flask-smorest --with marshmallow-sqlalchemy \
        --with orjson python bench/api_support/peer_smorest.py

flask-smorest has no query language and no `include`: as its docs show, each view is written by
hand with a query-args schema, `@blp.paginate()` (the total goes in the `X-Pagination` header, the
body is a bare list) and marshmallow-sqlalchemy schemas; nested data is a `Nested` field over a
`selectinload`ed relation, on its own route. Prints one JSON line (see common.emit).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import marshmallow as ma
from common import (
    CATS_PER_HOUSE,
    Call,
    Impl,
    QueryCounter,
    build_database,
    check_cat,
    check_cats_with_house,
    check_filtered,
    check_houses_with_cats,
    emit,
    expect,
    hand_app,
    hand_calls,
    make_engine,
    measure,
    new_cat,
    runner_args,
    versions,
)
from flask import Flask, abort
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow_sqlalchemy import SQLAlchemyAutoSchema, auto_field
from models_orm import Cat, House
from sqlalchemy import func, select
from sqlalchemy.orm import scoped_session, selectinload, sessionmaker


def smorest_app(engine: Any) -> Flask:
    app = Flask("smorest")
    app.config.update(API_TITLE="Houses", API_VERSION="v1", OPENAPI_VERSION="3.0.2")
    session = scoped_session(sessionmaker(bind=engine))

    @app.teardown_appcontext
    def remove_session(_exc: BaseException | None) -> None:
        session.remove()

    class CatSchema(SQLAlchemyAutoSchema):
        class Meta:
            model = Cat
            include_fk = True
            load_instance = True
            sqla_session = session

        id = auto_field(dump_only=True)

    class HouseSchema(SQLAlchemyAutoSchema):
        class Meta:
            model = House

    class HouseWithCatsSchema(HouseSchema):
        cats = ma.fields.Nested(CatSchema, many=True)

    class CatWithHouseSchema(CatSchema):
        house = ma.fields.Nested(HouseSchema)

    class HouseWithCountSchema(HouseSchema):
        cat_count = ma.fields.Integer(dump_only=True)

    class CatQueryArgs(ma.Schema):
        color = ma.fields.String()
        min_age = ma.fields.Integer()
        sort = ma.fields.String(load_default="id")

    sortable = {"id": Cat.id, "name": Cat.name, "color": Cat.color, "age": Cat.age}

    def page(statement: Any, pagination: Any) -> list[Any]:
        pagination.item_count = session.scalar(
            select(func.count()).select_from(statement.order_by(None).subquery())
        )
        limited = statement.offset(pagination.first_item).limit(pagination.page_size)
        return list(session.scalars(limited))

    houses = Blueprint("houses", "houses", url_prefix="/houses")
    cats = Blueprint("cats", "cats", url_prefix="/cats")

    @houses.route("/")
    class Houses(MethodView):
        @houses.response(200, HouseSchema(many=True))
        @houses.paginate(max_page_size=1000)
        def get(self, pagination_parameters: Any) -> Any:
            return page(select(House).order_by(House.id), pagination_parameters)

    @houses.route("/with-cats")
    @houses.response(200, HouseWithCatsSchema(many=True))
    @houses.paginate(max_page_size=1000)
    def houses_with_cats(pagination_parameters: Any) -> Any:
        statement = select(House).options(selectinload(House.cats)).order_by(House.id)
        return page(statement, pagination_parameters)

    @houses.route("/with-count")
    @houses.response(200, HouseWithCountSchema(many=True))
    @houses.paginate(max_page_size=1000)
    def houses_with_count(pagination_parameters: Any) -> Any:
        statement = select(House).options(selectinload(House.cats)).order_by(House.id)
        return page(statement, pagination_parameters)

    @cats.route("/")
    class Cats(MethodView):
        @cats.arguments(CatQueryArgs, location="query")
        @cats.response(200, CatSchema(many=True))
        @cats.paginate(max_page_size=1000)
        def get(self, args: dict[str, Any], pagination_parameters: Any) -> Any:
            statement = select(Cat)
            if "color" in args:
                statement = statement.where(Cat.color == args["color"])
            if "min_age" in args:
                statement = statement.where(Cat.age >= args["min_age"])
            for key in args["sort"].split(","):
                column = sortable.get(key.lstrip("-"))
                if column is None:
                    abort(400)
                statement = statement.order_by(column.desc() if key[0] == "-" else column)
            return page(statement, pagination_parameters)

        @cats.arguments(CatSchema)
        @cats.response(201, CatSchema)
        def post(self, cat: Cat) -> Any:
            session.add(cat)
            session.commit()
            return cat

    @cats.route("/<int:cat_id>")
    class CatById(MethodView):
        @cats.response(200, CatSchema)
        def get(self, cat_id: int) -> Any:
            return session.get(Cat, cat_id) or abort(404)

    @cats.route("/with-house")
    @cats.response(200, CatWithHouseSchema(many=True))
    @cats.paginate(max_page_size=1000)
    def cats_with_house(pagination_parameters: Any) -> Any:
        statement = select(Cat).options(selectinload(Cat.house)).order_by(Cat.id)
        return page(statement, pagination_parameters)

    api = Api(app)
    api.register_blueprint(houses)
    api.register_blueprint(cats)
    return app


def smorest_calls() -> dict[str, Call]:
    def w1(data: Any) -> None:
        check_cat(data)
        expect(data["id"] == 4321, "W1: wrong cat")

    def w2(data: Any) -> None:
        expect(len(data) == 100 and all("address" in h for h in data), "W2: not 100 houses")

    def w3b(data: Any) -> None:
        check_cats_with_house(data, {c["house_id"]: c["house"] for c in data})

    def w6(data: Any) -> None:
        expect(len(data) == 100, "W6: not 100 houses")
        expect(all(h["cat_count"] == CATS_PER_HOUSE for h in data), "W6: wrong cat_count")

    return {
        "W1": Call("GET", "/cats/4321", w1),
        "W2": Call("GET", "/houses/?page_size=100", w2),
        "W3a": Call("GET", "/houses/with-cats?page_size=100", check_houses_with_cats),
        "W3b": Call("GET", "/cats/with-house?page_size=1000", w3b),
        "W4": Call("POST", "/cats/", check_cat, body=new_cat, status=201),
        "W5": Call(
            "GET", "/cats/?color=black&min_age=3&sort=-age,name&page_size=100", check_filtered
        ),
        "W6": Call("GET", "/houses/with-count?page_size=100", w6),
    }


def main() -> None:
    quick, only = runner_args()
    with tempfile.TemporaryDirectory(prefix="flasker-bench-smorest-") as folder:
        path = Path(folder) / "bench.sqlite"
        build_database(path)
        hand_engine, peer_engine = make_engine(path), make_engine(path)
        impls = [
            Impl("hand-written", hand_app(hand_engine), QueryCounter(hand_engine), hand_calls()),
            Impl(
                "flask-smorest",
                smorest_app(peer_engine),
                QueryCounter(peer_engine),
                smorest_calls(),
            ),
        ]
        rows = measure(impls, only, quick)
    emit(
        {
            "env": "flask-smorest",
            "versions": versions(
                "flask-smorest",
                "marshmallow",
                "marshmallow-sqlalchemy",
                "flask",
                "sqlalchemy",
                "werkzeug",
                "orjson",
            ),
            "impls": ["hand-written", "flask-smorest"],
            "rows": rows,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
