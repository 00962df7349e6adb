"""flask-restless-ng next to the hand-written baseline, in flask-restless-ng's own environment.

    uv run --isolated --no-project --with flask-restless-ng --with 'flask<3.1' \
        --with 'sqlalchemy<2.1' --with orjson python bench/api_support/peer_restless.py

flask-restless-ng speaks JSON:API: `page[size]`, `include`, `filter[objects]` (a JSON list),
`sort`, sparse fieldsets `fields[houses]=...`; related resources arrive once each in `included`.
Prints one JSON line (see common.emit).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from common import (
    CATS_PER_HOUSE,
    Call,
    Impl,
    QueryCounter,
    build_database,
    check_cats_with_house,
    check_filtered,
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
from flask import Flask
from flask_restless import APIManager
from models_orm import Cat, House
from sqlalchemy.orm import scoped_session, sessionmaker

JSONAPI = "application/vnd.api+json"


def restless_app(engine: Any) -> Flask:
    app = Flask("restless")
    session = scoped_session(sessionmaker(bind=engine))

    @app.teardown_appcontext
    def remove_session(_exc: BaseException | None) -> None:
        session.remove()

    manager = APIManager(app, session=session)
    manager.create_api(
        House, methods=["GET"], max_page_size=1000, additional_attributes=["cat_count"]
    )
    manager.create_api(Cat, methods=["GET", "POST"], max_page_size=1000)
    return app


def flat(resource: dict[str, Any]) -> dict[str, Any]:
    """A JSON:API resource object as the plain dict the shared checks read."""
    row = {"id": int(resource["id"]), **resource.get("attributes", {})}
    house = resource.get("relationships", {}).get("house")
    if house is not None:
        row["house_id"] = int(house["data"]["id"]) if house["data"] else None
    return row


def restless_calls() -> dict[str, Call]:
    def w1(doc: Any) -> None:
        cat = flat(doc["data"])
        expect(cat["id"] == 4321 and {"name", "color", "age", "house_id"} <= set(cat), "W1")

    def w2(doc: Any) -> None:
        expect(len(doc["data"]) == 100 and doc["meta"]["total"] >= 1000, "W2: not 100 houses")
        expect(all("address" in h["attributes"] for h in doc["data"]), "W2: no address")

    def w3a(doc: Any) -> None:
        cats = {c["id"]: flat(c) for c in doc["included"] if c["type"] == "cats"}
        expect(len(doc["data"]) == 100, "W3a: not 100 houses")
        for house in doc["data"]:
            linked = house["relationships"]["cats"]["data"]
            expect(len(linked) == CATS_PER_HOUSE, "W3a: wrong number of cats")
            for link in linked:
                expect(cats[link["id"]]["name"], "W3a: a linked cat is not included")

    def w3b(doc: Any) -> None:
        houses = {int(h["id"]): h["attributes"] for h in doc["included"] if h["type"] == "houses"}
        check_cats_with_house([flat(c) for c in doc["data"]], houses)

    def w4(doc: Any) -> None:
        expect(doc["data"]["type"] == "cats" and int(doc["data"]["id"]) > 0, "W4: not created")

    def w5(doc: Any) -> None:
        check_filtered([flat(c) for c in doc["data"]])

    def w6(doc: Any) -> None:
        expect(len(doc["data"]) == 100, "W6: not 100 houses")
        counts = [h["attributes"]["cat_count"] for h in doc["data"]]
        expect(all(c == CATS_PER_HOUSE for c in counts), "W6: wrong cat_count")

    def post_body(iteration: int) -> dict[str, Any]:
        cat = new_cat(iteration)
        house = {"type": "houses", "id": str(cat.pop("house_id"))}
        return {
            "data": {"type": "cats", "attributes": cat, "relationships": {"house": {"data": house}}}
        }

    filters = quote(
        json.dumps(
            [
                {"name": "color", "op": "eq", "val": "black"},
                {"name": "age", "op": "ge", "val": 3},
            ]
        )
    )
    return {
        "W1": Call("GET", "/api/cats/4321", w1),
        "W2": Call("GET", "/api/houses?page[size]=100&fields[houses]=address", w2),
        "W3a": Call(
            "GET", "/api/houses?page[size]=100&include=cats&fields[houses]=address,cats", w3a
        ),
        "W3b": Call("GET", "/api/cats?page[size]=1000&include=house&fields[houses]=address", w3b),
        "W4": Call(
            "POST",
            "/api/cats",
            w4,
            body=post_body,
            status=201,
            content_type=JSONAPI,
            headers={"Accept": JSONAPI},
        ),
        "W5": Call("GET", f"/api/cats?filter[objects]={filters}&sort=-age,name&page[size]=100", w5),
        "W6": Call("GET", "/api/houses?page[size]=100&fields[houses]=address,cat_count", w6),
    }


def main() -> None:
    quick, only = runner_args()
    with tempfile.TemporaryDirectory(prefix="flasker-bench-restless-") as folder:
        path = Path(folder) / "bench.sqlite"
        build_database(path)
        hand_engine, peer_engine = make_engine(path), make_engine(path)
        impls = [
            Impl("hand-written", hand_app(hand_engine), QueryCounter(hand_engine), hand_calls()),
            Impl(
                "flask-restless-ng",
                restless_app(peer_engine),
                QueryCounter(peer_engine),
                restless_calls(),
            ),
        ]
        rows = measure(impls, only, quick)
    emit(
        {
            "env": "flask-restless-ng",
            "versions": versions("flask-restless-ng", "flask", "sqlalchemy", "werkzeug", "orjson"),
            "impls": ["hand-written", "flask-restless-ng"],
            "rows": rows,
        }
    )


if __name__ == "__main__":
    sys.exit(main())
