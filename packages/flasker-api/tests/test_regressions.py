"""Requests that once broke the API (found by schemathesis and by review), kept as tests."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.mark.parametrize("value", ["--5", "in.(--5)", "%2B-3", "١٢", "9" * 50])
def test_malformed_integers_in_filters_are_400(api, value):
    before = api.rows("cats")
    api.problem(api.get(f"/cats/?age={value}"), 400, parameter="age")
    assert api.rows("cats") == before


def test_malformed_integer_key_is_not_a_server_error(api):
    assert api.get("/houses/--5").status_code in (400, 404)


@pytest.mark.parametrize("position", ["99999999999999999999", "9223372036854775808"])
def test_a_position_past_any_offset_is_404(api, position):
    api.problem(api.get(f"/houses/1/cats/{position}"), 404)


@pytest.mark.parametrize("path", ["/memberships/1,1/club", "/memberships/1,1/person"])
def test_blanking_a_relation_that_is_part_of_the_key_is_refused(api, path):
    before = api.rows("memberships")
    response = api.put(path, data="null", content_type="application/json")
    assert response.status_code in (400, 409, 422), response.get_data(as_text=True)
    assert api.rows("memberships") == before
    response = api.patch("/memberships/1,1", json={"club": None})
    assert response.status_code in (400, 409, 422), response.get_data(as_text=True)
    assert api.rows("memberships") == before


def test_an_offset_on_a_naive_datetime_is_stored_as_utc(api):
    response = api.post(
        "/toys/",
        json={"kind": "mouse", "sku": "TZ-1", "last_played": "2030-12-19T15:13:49+02:00"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    written = response.get_json()["last_played"]
    assert written == "2030-12-19T13:13:49"
    # what the write answered is what a later read answers, ETag included
    read = api.client.get(response.headers["Location"])
    assert read.get_json()["last_played"] == written
    assert read.headers["ETag"].strip("W/") == response.headers["ETag"].strip("W/")


def test_a_plain_post_is_one_insert_returning_and_reads_back_identically(api):
    """A POST whose answer shows columns only is one INSERT ... RETURNING (no unit of work,
    no second SELECT), and its body and ETag are what a GET of the new cat answers."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    sa.event.listen(api.engine, "before_cursor_execute", record)
    try:
        response = api.post("/cats/", json={"name": "Pixel", "color": "black", "age": 2})
    finally:
        sa.event.remove(api.engine, "before_cursor_execute", record)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(statements) == 1
    assert statements[0].lstrip().upper().startswith("INSERT")
    assert "RETURNING" in statements[0].upper()
    read = api.client.get(response.headers["Location"])
    assert read.get_json() == response.get_json()
    assert read.headers["ETag"] == response.headers["ETag"]


def test_a_post_that_sets_a_relation_still_goes_through_the_session(api):
    response = api.post("/cats/", json={"name": "Scout", "house": 2})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert api.row("cats", name="Scout")["house_id"] == 2
