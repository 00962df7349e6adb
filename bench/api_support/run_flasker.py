"""flasker-api next to the hand-written baseline, in the workspace's environment.

    uv run python bench/api_support/run_flasker.py [--quick] [--only W3]

Writes a throwaway project (a cfg naming `bench_models`) over a filled SQLite file, starts it,
and times `project.app` (with flasker-api's blueprint) against the baseline app on the same
file. When flasker-api cannot start, or a workload fails, the JSON says why, and the baseline
is measured all the same. Prints one JSON line (see common.emit).
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from common import (
    CATS_PER_HOUSE,
    Call,
    Impl,
    QueryCounter,
    build_database,
    check_cat,
    check_color_sorted,
    check_filtered,
    check_houses_with_cats,
    emit,
    expect,
    hand_app,
    hand_calls,
    labelled,
    make_engine,
    measure,
    new_cat,
    runner_args,
    sqlite_pragmas,
    versions,
)
from sqlalchemy import Engine, event

IN_PROJECT_APP = "hand (project.app)"
CFG = """\
[PROJECT]
NAME = api-bench
MODULES = bench_models
DB_URL = sqlite:///{path}
"""


def envelope(data: Any) -> list[dict[str, Any]]:
    expect(isinstance(data, dict) and "data" in data and "meta" in data, "no list envelope")
    return data["data"]


def flasker_calls() -> dict[str, Call]:
    def w1(data: Any) -> None:
        check_cat(data)
        expect(data["id"] == 4321, "W1: wrong cat")

    def w2(data: Any) -> None:
        rows = envelope(data)
        expect(len(rows) == 100 and all("address" in h for h in rows), "W2: not 100 houses")
        expect(data["meta"]["total"] >= 1000, f"W2: total {data['meta'].get('total')}")

    def w3b(data: Any) -> None:
        rows = envelope(data)
        expect(len(rows) == 1000, f"W3b: {len(rows)} cats")
        # Each house is serialised once; a repeat is its key (or a stub holding it).
        full = {h["id"]: h for c in rows if isinstance(h := c["house"], dict) and "address" in h}
        for cat in rows:
            house = cat["house"]
            key = house["id"] if isinstance(house, dict) else house
            expect(key in full and key == cat["house_id"], f"W3b: house of {cat} not in answer")

    def w6(data: Any) -> None:
        rows = envelope(data)
        expect(len(rows) == 100, "W6: not 100 houses")
        expect({"id", "address", "cat_count"} <= set(rows[0]), f"W6: fields {sorted(rows[0])}")
        expect(all(h["cat_count"] == CATS_PER_HOUSE for h in rows), "W6: wrong cat_count")

    return {
        "W1": Call("GET", "/api/cats/4321", w1),
        "W2": Call("GET", "/api/houses/?limit=100", w2),
        "W3a": Call(
            "GET",
            "/api/houses/?limit=100&include=cats",
            lambda data: check_houses_with_cats(envelope(data)),
        ),
        "W3b": Call("GET", "/api/cats/?limit=1000&include=house", w3b),
        "W4": Call("POST", "/api/cats/", check_cat, body=new_cat, status=201),
        "W5": Call(
            "GET",
            "/api/cats/?color=black&age=gte.3&sort=-age,name&limit=100",
            lambda data: check_filtered(envelope(data)),
        ),
        "W6": Call("GET", "/api/houses/?limit=100&fields=id,address,cat_count", w6),
        "W6L": Call("GET", "/api/loaded_houses/?limit=100&fields=id,address,cat_count", w6),
        "P2": Call("GET", "/api/plain_houses/?limit=100&fields=id,address,label", labelled(w2)),
        "P3a": Call(
            "GET",
            "/api/plain_houses/?limit=100&include=cats&fields=id,address,label",
            labelled(lambda data: check_houses_with_cats(envelope(data)), "cats"),
        ),
        "P3b": Call("GET", "/api/plain_cats/?limit=1000&include=house", labelled(w3b, "house")),
        "P5": Call(
            "GET",
            "/api/plain_cats/?color=black&sort=name&limit=100",
            labelled(lambda data: check_color_sorted(envelope(data))),
        ),
        "P6": Call(
            "GET",
            "/api/plain_houses/?limit=100&fields=id,address,label,cat_count",
            labelled(w6),
        ),
    }


def flasker_impls(folder: Path, path: Path, hand_engine: Engine) -> list[Impl]:
    """flasker-api on project.app, and the baseline's views mounted on project.app too.

    The second shows what flasker's own request hooks cost, apart from flasker-api's work.
    """
    from flasker import Project

    cfg = folder / "bench.cfg"
    cfg.write_text(CFG.format(path=path), encoding="utf-8")
    project = Project(cfg).start()
    engine = project.db.engine
    # The same connection settings as the baseline's engine (flasker sets WAL and foreign keys;
    # synchronous=NORMAL too), on fresh connections.
    event.listen(engine, "connect", sqlite_pragmas)
    engine.dispose()
    app = hand_app(hand_engine, project.app)
    return [
        Impl(IN_PROJECT_APP, app, QueryCounter(hand_engine), hand_calls()),
        Impl("flasker-api", app, QueryCounter(engine), flasker_calls()),
    ]


def main() -> None:
    quick, only = runner_args()
    failed = None
    with tempfile.TemporaryDirectory(prefix="flasker-bench-api-") as name:
        folder = Path(name)
        path = folder / "bench.sqlite"
        build_database(path)
        hand_engine = make_engine(path)
        impls = [
            Impl("hand-written", hand_app(hand_engine), QueryCounter(hand_engine), hand_calls())
        ]
        try:
            impls.extend(flasker_impls(folder, path, hand_engine))
        except Exception as error:
            traceback.print_exc()
            failed = f"{type(error).__name__}: {error}".splitlines()[0][:200]
        rows = measure(impls, only, quick)
    emit(
        {
            "env": "flasker-api",
            "versions": versions(
                "flasker-api", "flasker-core", "flask", "sqlalchemy", "werkzeug", "orjson"
            ),
            "impls": ["hand-written", IN_PROJECT_APP, "flasker-api"],
            "rows": rows,
            "failed": {"flasker-api": failed} if failed else {},
        }
    )


if __name__ == "__main__":
    sys.exit(main())
