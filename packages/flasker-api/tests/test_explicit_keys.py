"""A POST that chooses its own integer key leaves the database ready for the next POST that
does not (issue 13): on PostgreSQL a sequence does not move for explicit values, so without
care the numbered insert after `{"id": 2}` collides (409). Both write paths: the one-statement
insert of a plain model and the ORM's unit of work (a model with a validator)."""

from __future__ import annotations

from typing import Any

import pytest

MODELS = """
    from sqlalchemy import Column, Integer, Unicode
    from sqlalchemy.orm import validates

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True))


    class KeyedPlain(Model):
        __tablename__ = "keyed_plain"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(32), nullable=False)


    class KeyedChecked(Model):
        __tablename__ = "keyed_checked"
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(32), nullable=False)

        @validates("name")
        def _name(self, _key, value):
            return value.strip()
"""


@pytest.fixture(scope="module")
def api(make_api: Any) -> Any:
    return make_api(MODELS, {})


@pytest.mark.parametrize("collection", ["keyed_plain", "keyed_checked"])
def test_numbered_inserts_follow_an_explicit_key(api, collection):
    api.reseed()
    first = api.post(f"/{collection}/", json={"name": "numbered"})
    assert first.status_code == 201, first.get_data(as_text=True)
    assert first.get_json()["id"] == 1
    chosen = api.post(f"/{collection}/", json={"id": 2, "name": "chosen"})
    assert chosen.status_code == 201, chosen.get_data(as_text=True)
    far = api.post(f"/{collection}/", json={"id": 50, "name": "far"})
    assert far.status_code == 201, far.get_data(as_text=True)
    after = api.post(f"/{collection}/", json={"name": "after"})
    assert after.status_code == 201, after.get_data(as_text=True)
    assert after.get_json()["id"] == 51
    lower = api.post(f"/{collection}/", json={"id": 10, "name": "lower"})  # never moves back
    assert lower.status_code == 201, lower.get_data(as_text=True)
    last = api.post(f"/{collection}/", json={"name": "last"})
    assert last.get_json()["id"] == 52
    assert [row["id"] for row in api.rows(collection)] == [1, 2, 10, 50, 51, 52]


def test_a_taken_key_is_still_a_409_that_changes_nothing(api):
    api.reseed()
    assert api.post("/keyed_plain/", json={"id": 7, "name": "seven"}).status_code == 201
    again = api.post("/keyed_plain/", json={"id": 7, "name": "again"})
    assert again.status_code == 409
    assert [row["name"] for row in api.rows("keyed_plain")] == ["seven"]
    assert api.post("/keyed_plain/", json={"name": "next"}).get_json()["id"] == 8
