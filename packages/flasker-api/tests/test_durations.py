"""An `Interval` column end to end: the API sends its value as seconds (flasker.json writes a
timedelta so), reads seconds back from a body or a filter, and describes it so: a number of
format `duration` in the model info and the OpenAPI document, never a `date-time` string (the
impl SQLAlchemy's Interval decorates where the database has no interval type)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

MODELS = """
    from sqlalchemy import Column, Integer, Interval, Unicode

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True))


    class Chore(Model):
        __tablename__ = "chores"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(32), nullable=False)
        takes = Column(Interval, nullable=True)
"""

SEED = {"chores": [{"id": 1, "name": "dishes", "takes": datetime.timedelta(minutes=15)}]}


@pytest.fixture(scope="module")
def api(make_api: Any) -> Any:
    return make_api(MODELS, SEED)


def test_an_interval_is_sent_as_seconds(api):
    api.reseed()
    assert api.ok("/chores/1")["takes"] == 900.0
    assert api.data("/chores/")[0]["takes"] == 900.0


def test_an_interval_is_written_from_seconds_and_answered_as_read(api):
    api.reseed()
    created = api.post("/chores/", json={"name": "laundry", "takes": 5400.5})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["takes"] == 5400.5
    assert api.ok(created.headers["Location"].removeprefix("/api"))["takes"] == 5400.5
    assert api.row("chores", id=created.get_json()["id"])["takes"] == datetime.timedelta(
        seconds=5400.5
    )
    api.problem(api.post("/chores/", json={"name": "x", "takes": "PT1H"}), 422)


def test_an_interval_is_filtered_by_seconds(api):
    api.reseed()
    assert api.names("/chores/?takes=900") == ["dishes"]


def test_an_interval_is_described_as_a_number_of_seconds(api):
    schemas = api.ok("/openapi.json")["components"]["schemas"]
    described = {"type": ["number", "null"], "description": "A duration in seconds."}
    assert schemas["Chore"]["properties"]["takes"] == described
    assert schemas["ChoreCreate"]["properties"]["takes"] == described
