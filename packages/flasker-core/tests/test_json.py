"""JSON with orjson: what a project's views return through `jsonify` and what tasks store."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from decimal import Decimal

import pytest
from markupsafe import Markup

from flasker import json as fjson


class Colour(enum.Enum):
    BLACK = "black"


class Size(enum.IntEnum):
    SMALL = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


VALUES = {
    "when": datetime.datetime(2026, 11, 25, 10, 30, 5, tzinfo=datetime.UTC),
    "naive": datetime.datetime(2026, 11, 25, 10, 30),
    "day": datetime.date(2026, 11, 25),
    "time": datetime.time(7, 5),
    "price": Decimal("12.3400"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "colour": Colour.BLACK,
    "size": Size.SMALL,
    "wait": datetime.timedelta(minutes=1, seconds=30),
    "tags": {"b", "a"},
    "point": Point(1, 2),
    "html": Markup("<b>x</b>"),
    3: "non-string key",
}

EXPECTED = {
    "when": "2026-11-25T10:30:05+00:00",
    "naive": "2026-11-25T10:30:00",
    "day": "2026-11-25",
    "time": "07:05:00",
    "price": "12.3400",
    "id": "12345678-1234-5678-1234-567812345678",
    "colour": "black",
    "size": 1,
    "wait": 90.0,
    "tags": ["a", "b"],
    "point": {"x": 1, "y": 2},
    "html": "<b>x</b>",
    "3": "non-string key",
}


def test_dumps_knows_dates_decimals_uuids_enums() -> None:
    assert fjson.loads(fjson.dumps(VALUES)) == EXPECTED


def test_sorted_and_indented() -> None:
    assert fjson.dumps({"b": 1, "a": 2}, sort_keys=True) == b'{"a":2,"b":1}'
    assert fjson.dumps({"a": [1]}, indent=True) == b'{\n  "a": [\n    1\n  ]\n}'


def test_unknown_objects_are_refused_with_their_type() -> None:
    with pytest.raises(TypeError, match="Type is not JSON serializable: object"):
        fjson.dumps({"x": object()})


def test_the_app_answers_jsonify_with_orjson(make_project) -> None:
    project = make_project("[PROJECT]\nNAME = json\n", start=False)
    from flask import jsonify, request

    @project.app.get("/values")
    def values():
        return jsonify({k: v for k, v in VALUES.items() if k != 3})

    @project.app.post("/echo")
    def echo():
        return {"got": request.get_json(), "when": VALUES["when"]}

    client = project.app.test_client()
    response = client.get("/values")
    assert response.mimetype == "application/json"
    expected = {k: v for k, v in EXPECTED.items() if k != "3"}
    assert response.json == expected
    echoed = client.post("/echo", json={"price": "1.5", "n": [1, 2]})
    assert echoed.json == {"got": {"price": "1.5", "n": [1, 2]}, "when": EXPECTED["when"]}
