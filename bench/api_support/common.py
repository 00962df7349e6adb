"""What every environment of the API benchmark shares: data, baseline views, timing, checks.

Imported by the three runners (`run_flasker.py` in the workspace env, `peer_restless.py` and
`peer_smorest.py` in their own `uv run --isolated --no-project --with ...` environments), so it
needs nothing beyond Flask, SQLAlchemy and orjson, which every environment has.

The hand-written baseline is what a careful developer writes without a framework: SQLAlchemy
Core selects, rows turned into dicts, orjson; one query for a page, one `IN` query per nested
level, one `count(*)` for the envelope's total, an `INSERT ... RETURNING` for a create.
"""

from __future__ import annotations

import gc
import importlib.metadata
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from flask import Flask, Response, abort, request
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Unicode,
    create_engine,
    event,
    func,
    insert,
    select,
)
from werkzeug.test import EnvironBuilder

HOUSES = 1_000
CATS_PER_HOUSE = 10
COLORS = ["black", "white", "grey", "orange", "tabby", "calico", "tortoiseshell", "cream"]
NAMES = ["Felix", "Tom", "Luna", "Salem", "Mittens", "Garfield", "Nala", "Simba", "Oscar", "Milo"]
STREETS = ["Rue des Chats", "Wallaby Way", "Baker Street", "Elm Street", "Abbey Road"]

metadata = MetaData()
houses = Table(
    "houses",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("address", Unicode(128), nullable=False),
)
cats = Table(
    "cats",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Unicode(64), nullable=False),
    Column("color", Unicode(32)),
    Column("age", Integer),
    Column("house_id", ForeignKey("houses.id"), index=True),
)
HOUSE_COLUMNS = (houses.c.id, houses.c.address)
CAT_COLUMNS = (cats.c.id, cats.c.name, cats.c.color, cats.c.age, cats.c.house_id)
# Plain `str` keys: column names are `quoted_name`s, a str subclass orjson will not take as a key.
HOUSE_KEYS = tuple(str(column.name) for column in HOUSE_COLUMNS)
CAT_KEYS = tuple(str(column.name) for column in CAT_COLUMNS)


# -- the database --------------------------------------------------------------------------------
def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """The same settings in every environment: WAL, no fsync per commit, foreign keys on.

    `synchronous=NORMAL` keeps W4 about the framework rather than the disk's fsync.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", sqlite_pragmas)
    return engine


def build_database(path: Path) -> None:
    """1,000 houses x 10 cats with names, colours and ages, the same in every environment."""
    rng = random.Random(20240501)
    engine = make_engine(path)
    metadata.create_all(engine)
    house_rows = [
        {"id": i, "address": f"{i} {rng.choice(STREETS)}, Town {i % 37}"}
        for i in range(1, HOUSES + 1)
    ]
    cat_rows = [
        {
            "id": i,
            "name": f"{rng.choice(NAMES)} {i}",
            "color": rng.choice(COLORS),
            "age": rng.randrange(0, 20),
            "house_id": (i - 1) // CATS_PER_HOUSE + 1,
        }
        for i in range(1, HOUSES * CATS_PER_HOUSE + 1)
    ]
    with engine.begin() as connection:
        connection.execute(insert(houses), house_rows)
        connection.execute(insert(cats), cat_rows)
    engine.dispose()


class QueryCounter:
    """Counts statements sent to the database (SQLAlchemy's `before_cursor_execute`)."""

    def __init__(self, *engines: Engine) -> None:
        self.count = 0
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


# -- the hand-written baseline ---------------------------------------------------------------------
def _page_args(default: int = 20, maximum: int = 1000) -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", default))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        abort(400)
    if not 0 < limit <= maximum or offset < 0:
        abort(400)
    return limit, offset


def _envelope(rows: list[dict[str, Any]], total: int, limit: int, offset: int) -> Response:
    following = offset + limit
    next_url = f"{request.path}?limit={limit}&offset={following}" if following < total else None
    meta = {"total": total, "returned": len(rows), "limit": limit, "offset": offset}
    meta["next"] = next_url
    return Response(orjson.dumps({"data": rows, "meta": meta}), mimetype="application/json")


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status=status, mimetype="application/json")


CAT_SORTS = {name: cats.c[name] for name in ("id", "name", "color", "age", "house_id")}
CAT_WRITABLE = {"name": str, "color": str, "age": int, "house_id": int}


def house_label(house: dict[str, Any]) -> str:
    """The P workloads' plain property, as the baseline computes it (bench_models.PlainHouse)."""
    return f"{house['address']} (house {house['id']})"


def cat_label(cat: dict[str, Any]) -> str:
    """The P workloads' plain property of cats (bench_models.PlainCat)."""
    return f"{cat['name']}, {cat['color']}"


def hand_app(engine: Engine, app: Flask | None = None) -> Flask:
    """The baseline: plain Flask views, SQLAlchemy Core, orjson, under `/hand/`.

    On a bare Flask app unless given one (run_flasker.py also mounts them on project.app).
    """
    app = app or Flask("hand")

    @app.get("/hand/cats/<int:pk>")
    def cat(pk: int) -> Response:
        with engine.connect() as connection:
            row = connection.execute(select(*CAT_COLUMNS).where(cats.c.id == pk)).first()
        if row is None:
            abort(404)
        return _json(dict(zip(CAT_KEYS, row, strict=True)))

    @app.get("/hand/houses/")
    def house_list() -> Response:
        limit, offset = _page_args()
        include_cats = request.args.get("include") == "cats"
        with_count = "cat_count" in request.args.get("fields", "").split(",")
        labelled = "label" in request.args
        with engine.connect() as connection:
            total = connection.execute(select(func.count()).select_from(houses)).scalar_one()
            page = select(*HOUSE_COLUMNS).order_by(houses.c.id).limit(limit).offset(offset)
            rows = [dict(zip(HOUSE_KEYS, row, strict=True)) for row in connection.execute(page)]
            keys = [row["id"] for row in rows]
            if include_cats:
                by_house: dict[int, list[dict[str, Any]]] = {key: [] for key in keys}
                children = (
                    select(*CAT_COLUMNS)
                    .where(cats.c.house_id.in_(keys))
                    .order_by(cats.c.house_id, cats.c.id)
                )
                for child in connection.execute(children):
                    cat_row = dict(zip(CAT_KEYS, child, strict=True))
                    if labelled:
                        cat_row["label"] = cat_label(cat_row)
                    by_house[child.house_id].append(cat_row)
                for row in rows:
                    row["cats"] = by_house[row["id"]]
            if with_count:
                counts = dict(
                    connection.execute(
                        select(cats.c.house_id, func.count())
                        .where(cats.c.house_id.in_(keys))
                        .group_by(cats.c.house_id)
                    ).all()
                )
                for row in rows:
                    row["cat_count"] = counts.get(row["id"], 0)
        if labelled:
            for row in rows:
                row["label"] = house_label(row)
        return _envelope(rows, total, limit, offset)

    @app.get("/hand/cats/")
    def cat_list() -> Response:
        limit, offset = _page_args()
        conditions = []
        color = request.args.get("color")
        if color is not None:
            conditions.append(cats.c.color == color)
        age = request.args.get("age")
        if age is not None:
            op, _, value = age.rpartition(".")
            if op not in ("", "eq", "gte") or not value.lstrip("-").isdigit():
                abort(400)
            column = cats.c.age
            conditions.append(column >= int(value) if op == "gte" else column == int(value))
        order = []
        for key in request.args.get("sort", "id").split(","):
            column = CAT_SORTS.get(key.lstrip("-"))
            if column is None:
                abort(400)
            order.append(column.desc() if key.startswith("-") else column.asc())
        with engine.connect() as connection:
            total = connection.execute(
                select(func.count()).select_from(cats).where(*conditions)
            ).scalar_one()
            page = select(*CAT_COLUMNS).where(*conditions).order_by(*order)
            result = connection.execute(page.limit(limit).offset(offset))
            rows = [dict(zip(CAT_KEYS, row, strict=True)) for row in result]
            labelled = "label" in request.args
            if labelled:
                for row in rows:
                    row["label"] = cat_label(row)
            if request.args.get("include") == "house":
                keys = {row["house_id"] for row in rows}
                parents = {
                    parent.id: dict(zip(HOUSE_KEYS, parent, strict=True))
                    for parent in connection.execute(
                        select(*HOUSE_COLUMNS).where(houses.c.id.in_(keys))
                    )
                }
                if labelled:
                    for parent in parents.values():
                        parent["label"] = house_label(parent)
                for row in rows:
                    row["house"] = parents.get(row["house_id"])
        return _envelope(rows, total, limit, offset)

    @app.post("/hand/cats/")
    def cat_create() -> Response:
        try:
            payload = orjson.loads(request.get_data())
        except orjson.JSONDecodeError:
            abort(400)
        if not isinstance(payload, dict) or "name" not in payload:
            abort(422)
        for key, value in payload.items():
            kind = CAT_WRITABLE.get(key)
            if kind is None or not (value is None or type(value) is kind):
                abort(422)
        with engine.begin() as connection:
            row = connection.execute(insert(cats).values(payload).returning(*CAT_COLUMNS)).one()
        response = _json(dict(zip(CAT_KEYS, row, strict=True)), status=201)
        response.headers["Location"] = f"/hand/cats/{row.id}"
        return response

    return app


# -- timing ----------------------------------------------------------------------------------------
@dataclass
class Call:
    """One request of a workload for one implementation, and how to check its answer."""

    method: str
    path: str
    check: Callable[[Any], None]
    body: Callable[[int], Any] | None = None  # iteration number → JSON body (for POST)
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Impl:
    name: str
    app: Flask
    counter: QueryCounter
    calls: dict[str, Call]  # workload id → call
    failed: dict[str, str] = field(default_factory=dict)


WORKLOADS = {
    "W1": "get one cat by id",
    "W2": "page of 100 houses",
    "W3a": "100 houses, each with its 10 cats",
    "W3b": "1,000 cats, each with its house",
    "W4": "POST a cat",
    "W5": "cats filtered (color, age>=) + sorted (-age,name), page of 100",
    "W6": "page of 100 houses with cat_count (a property over a relation)",
    "W6L": "W6 with cat_count computed in Python over loads= (flasker-api only)",
    "P2": "page of 100 houses with a plain @property (label)",
    "P3a": "100 houses with label, each with its 10 cats with label",
    "P3b": "1,000 cats with label, each with its house with label",
    "P5": "cats with label filtered (color) + sorted (name), page of 100",
    "P6": "page of 100 houses with label and cat_count (count=)",
}


def _environ(call: Call, iteration: int) -> dict[str, Any]:
    path, _, query = call.path.partition("?")
    data = None
    if call.body is not None:
        body = call.body(iteration)
        data = body if isinstance(body, bytes) else orjson.dumps(body)
    builder = EnvironBuilder(
        path=path,
        query_string=query,
        method=call.method,
        data=data,
        content_type=call.content_type if data is not None else None,
        headers=call.headers,
    )
    try:
        return builder.get_environ()
    finally:
        builder.close()


def wsgi_call(app: Flask, environ: dict[str, Any]) -> tuple[int, bytes]:
    """Call the app as a WSGI server would, without a test client's extra work."""
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc_info: Any = None) -> Callable[[bytes], None]:
        status.append(line)
        return lambda _chunk: None

    answer = app(environ, start_response)
    try:
        body = b"".join(answer)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    return int(status[0][:3]), body


def _one(
    impl: Impl, call: Call, iteration: int, collect: bool = False
) -> tuple[float, int, int, bytes]:
    environ = _environ(call, iteration)
    if collect:
        # Untimed: the garbage of the previous request (perhaps the other implementation's) is
        # not collected on this one's time; collections this request's allocations trigger are.
        gc.collect()
    before = impl.counter.count
    start = time.perf_counter()
    status, body = wsgi_call(impl.app, environ)
    elapsed = time.perf_counter() - start
    return elapsed, impl.counter.count - before, status, body


def summary(body: bytes) -> str:
    """The gist of an error answer: a problem's title and detail, an HTML page's title."""
    text = body.decode(errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        start, end = text.find("<title>"), text.find("</title>")
        return text[start + 7 : end] if 0 <= start < end else " ".join(text.split())[:120]
    if isinstance(data, dict):
        parts = [str(data[k]) for k in ("title", "detail", "message", "errors") if k in data]
        if parts:
            return ": ".join(parts)[:200]
    return text[:200]


def verify(impl: Impl, workload: str, iteration: int = 0) -> int:
    """Run one request, check its status and shape; return its query count."""
    call = impl.calls[workload]
    _elapsed, queries, status, body = _one(impl, call, iteration)
    if status != call.status:
        raise AssertionError(f"status {status} (expected {call.status}): {summary(body)}")
    call.check(json.loads(body))
    return queries


def measure(impls: list[Impl], only: Iterable[str] | None, quick: bool) -> list[dict[str, Any]]:
    """Per workload: check each implementation's answer, warm up, then time them interleaved.

    Rounds alternate the implementations, so a busy machine slows them alike; each gets at least
    `minimum` samples, and rounds stop after `budget` seconds or `maximum` rounds.
    """
    budget, minimum, maximum, warmup = (0.6, 7, 200, 3) if quick else (3.0, 25, 2000, 10)
    wanted = [w for w in WORKLOADS if not only or any(w.startswith(o) for o in only)]
    rows: list[dict[str, Any]] = []
    for workload in wanted:
        active: list[Impl] = []
        for impl in impls:
            if workload not in impl.calls:
                continue
            try:
                verify(impl, workload)
                for i in range(warmup):
                    _one(impl, impl.calls[workload], i + 1)
            except Exception as error:  # a failing implementation is a row, not a crash
                message = f"{type(error).__name__}: {error}".strip().splitlines()[0][:160]
                rows.append({"workload": workload, "impl": impl.name, "error": message})
                continue
            active.append(impl)
        samples: dict[str, list[float]] = {impl.name: [] for impl in active}
        queries: dict[str, int] = {impl.name: 0 for impl in active}
        bad: dict[str, str] = {}
        gc.collect()
        gc.freeze()  # what exists now (app, models, caches) is not scanned by each collection
        started = time.perf_counter()
        rounds = 0
        while active and rounds < maximum:
            shift = rounds % len(active)  # no implementation always goes first
            for impl in active[shift:] + active[:shift]:
                call = impl.calls[workload]
                elapsed, count, status, body = _one(impl, call, 1000 + rounds, collect=True)
                if status != call.status:
                    bad.setdefault(impl.name, f"status {status} while timing: {summary(body)}")
                samples[impl.name].append(elapsed)
                queries[impl.name] += count
            rounds += 1
            if rounds >= minimum and time.perf_counter() - started > budget:
                break
        gc.unfreeze()
        for impl in active:
            times = sorted(samples[impl.name])
            row: dict[str, Any] = {
                "workload": workload,
                "impl": impl.name,
                "median_ms": statistics.median(times) * 1000,
                "p90_ms": times[min(len(times) - 1, int(len(times) * 0.9))] * 1000,
                "queries": queries[impl.name] / len(times),
                "n": len(times),
            }
            if impl.name in bad:
                row["error"] = bad[impl.name]
            rows.append(row)
    return rows


def versions(*distributions: str) -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in distributions:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def emit(result: dict[str, Any]) -> None:
    """The runner's answer: one JSON line on stdout, read by bench/api.py."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def runner_args(argv: list[str] | None = None) -> tuple[bool, list[str]]:
    """`--quick` and `--only W3,W5` as bench/api.py passes them."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    return args.quick, [o for o in args.only.split(",") if o]


# -- shape checks (the baseline's and flasker-api's shapes; peers adapt) --------------------
def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check_cat(cat: dict[str, Any]) -> None:
    expect(
        {"name", "color", "age", "house_id"} <= set(cat) and isinstance(cat["name"], str),
        f"not a cat: {str(cat)[:200]}",
    )


def check_houses_with_cats(houses_: list[dict[str, Any]]) -> None:
    expect(len(houses_) == 100, f"{len(houses_)} houses, expected 100")
    for house in houses_:
        expect(len(house["cats"]) == CATS_PER_HOUSE, f"house {house['id']}: {len(house['cats'])}")
        for cat in house["cats"]:
            check_cat(cat)
            expect(cat["house_id"] == house["id"], "a cat in the wrong house")


def check_cats_with_house(cats_: list[dict[str, Any]], houses_by_id: dict[Any, Any]) -> None:
    expect(len(cats_) == 1000, f"{len(cats_)} cats, expected 1000")
    for cat in cats_:
        house = houses_by_id[cat["house_id"]]
        expect(isinstance(house["address"], str), f"no house address for cat {cat}")


def check_filtered(cats_: list[dict[str, Any]]) -> None:
    expect(len(cats_) == 100, f"{len(cats_)} cats, expected 100")
    keys = [(-c["age"], c["name"]) for c in cats_]
    expect(keys == sorted(keys), "not sorted by -age,name")
    expect(all(c["color"] == "black" and c["age"] >= 3 for c in cats_), "filter not applied")


def check_color_sorted(cats_: list[dict[str, Any]]) -> None:
    expect(len(cats_) == 100, f"{len(cats_)} cats, expected 100")
    names = [c["name"] for c in cats_]
    expect(names == sorted(names), "not sorted by name")
    expect(all(c["color"] == "black" for c in cats_), "filter not applied")


def labelled(check: Callable[[Any], None], nested: str = "") -> Callable[[Any], None]:
    """`check`, and every row (and its `nested` relation's rows) carries the right label."""

    def checked(data: Any) -> None:
        check(data)
        for row in data["data"]:
            if "address" in row:
                expect(row["label"] == house_label(row), f"label of {str(row)[:120]}")
            else:
                expect(row["label"] == cat_label(row), f"label of {str(row)[:120]}")
            value = row.get(nested) if nested else None
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, dict):
                    expected = house_label(child) if "address" in child else cat_label(child)
                    expect(child.get("label") == expected, f"label of {str(child)[:120]}")

    return checked


def new_cat(iteration: int) -> dict[str, Any]:
    """A cat to create: too young for W5's filter, in a house past the pages W2/W3/W6 read."""
    name = f"Bench {iteration}-{time.perf_counter_ns()}"
    return {"name": name, "color": "black", "age": 2, "house_id": HOUSES - iteration % 100}


def hand_calls() -> dict[str, Call]:
    def envelope(data: Any) -> list[dict[str, Any]]:
        expect(set(data) == {"data", "meta"}, "no list envelope")
        return data["data"]

    def w1(data: Any) -> None:
        check_cat(data)
        expect(data["id"] == 4321, "wrong cat")

    def w2(data: Any) -> None:
        rows = envelope(data)
        expect(len(rows) == 100 and data["meta"]["total"] >= HOUSES, "not 100 houses")

    def w3b(data: Any) -> None:
        rows = envelope(data)
        check_cats_with_house(rows, {row["house_id"]: row["house"] for row in rows})

    def w4(data: Any) -> None:
        check_cat(data)

    def w6(data: Any) -> None:
        rows = envelope(data)
        expect(len(rows) == 100, "not 100 houses")
        expect(all(row["cat_count"] == CATS_PER_HOUSE for row in rows), "wrong cat_count")

    return {
        "W1": Call("GET", "/hand/cats/4321", w1),
        "W2": Call("GET", "/hand/houses/?limit=100", w2),
        "W3a": Call(
            "GET",
            "/hand/houses/?limit=100&include=cats",
            lambda data: check_houses_with_cats(envelope(data)),
        ),
        "W3b": Call("GET", "/hand/cats/?limit=1000&include=house", w3b),
        "W4": Call("POST", "/hand/cats/", w4, body=new_cat, status=201),
        "W5": Call(
            "GET",
            "/hand/cats/?color=black&age=gte.3&sort=-age,name&limit=100",
            lambda data: check_filtered(envelope(data)),
        ),
        "W6": Call("GET", "/hand/houses/?limit=100&fields=id,address,cat_count", w6),
        "W6L": Call("GET", "/hand/houses/?limit=100&fields=id,address,cat_count", w6),
        "P2": Call("GET", "/hand/houses/?limit=100&label", labelled(w2)),
        "P3a": Call(
            "GET",
            "/hand/houses/?limit=100&include=cats&label",
            labelled(lambda data: check_houses_with_cats(envelope(data)), "cats"),
        ),
        "P3b": Call("GET", "/hand/cats/?limit=1000&include=house&label", labelled(w3b, "house")),
        "P5": Call(
            "GET",
            "/hand/cats/?color=black&sort=name&limit=100&label",
            labelled(lambda data: check_color_sorted(envelope(data))),
        ),
        "P6": Call(
            "GET", "/hand/houses/?limit=100&fields=id,address,cat_count&label", labelled(w6)
        ),
    }
