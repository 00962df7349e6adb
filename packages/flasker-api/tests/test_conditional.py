"""Conditional requests: `ETag` on GET, `If-None-Match` → 304, `If-Match` → 412 on a stale
version, leaving the row as it was."""

from __future__ import annotations

import pytest


def etag_of(api, path: str) -> str:
    response = api.get(path)
    assert response.status_code == 200
    etag = response.headers.get("ETag")
    assert etag, "GET must answer with an ETag"
    return etag


def test_get_has_an_etag_that_is_stable(api):
    assert etag_of(api, "/cats/Felix") == etag_of(api, "/cats/Felix")
    assert etag_of(api, "/cats/Felix") != etag_of(api, "/cats/Tom")


def test_if_none_match_with_the_current_etag_is_304(api):
    etag = etag_of(api, "/cats/Felix")
    response = api.get("/cats/Felix", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers.get("ETag") == etag


def test_if_none_match_with_an_old_etag_gets_the_new_body(api):
    etag = etag_of(api, "/cats/Felix")
    assert api.patch("/cats/Felix", json={"age": 4}).status_code == 200
    response = api.get("/cats/Felix", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.get_json()["age"] == 4
    assert response.headers["ETag"] != etag


def test_if_none_match_star_is_304_for_an_existing_object(api):
    assert api.get("/cats/Felix", headers={"If-None-Match": "*"}).status_code == 304


def test_if_none_match_with_one_of_several_etags(api):
    etag = etag_of(api, "/cats/Felix")
    response = api.get("/cats/Felix", headers={"If-None-Match": f'"nope", {etag}'})
    assert response.status_code == 304


def test_etag_depends_on_the_representation(api):
    assert etag_of(api, "/cats/Felix") != etag_of(api, "/cats/Felix?fields=name")
    assert etag_of(api, "/houses/1") != etag_of(api, "/houses/1?include=cats")


def test_property_change_changes_the_etag(api):
    etag = etag_of(api, "/houses/2")
    api.patch("/cats/Felix", json={"house_id": 2})
    assert etag_of(api, "/houses/2") != etag


def test_list_etag_and_304(api):
    response = api.get("/cats/?sort=name")
    etag = response.headers.get("ETag")
    assert etag
    assert api.get("/cats/?sort=name", headers={"If-None-Match": etag}).status_code == 304
    api.patch("/cats/Tom", json={"color": "blue"})
    again = api.get("/cats/?sort=name", headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert again.headers["ETag"] != etag


def test_relation_collection_has_an_etag(api):
    response = api.get("/houses/3/cats/")
    etag = response.headers.get("ETag")
    assert etag
    assert api.get("/houses/3/cats/", headers={"If-None-Match": etag}).status_code == 304


@pytest.mark.parametrize(
    ("method", "body", "expected"),
    [
        ("patch", {"age": 9}, 200),
        ("put", {"name": "Felix", "color": "red", "age": 9, "house_id": 1}, 200),
        ("delete", None, 204),
    ],
)
def test_if_match_current_etag_lets_the_write_through(api, method, body, expected):
    etag = etag_of(api, "/cats/Felix")
    response = getattr(api, method)("/cats/Felix", json=body, headers={"If-Match": etag})
    assert response.status_code == expected, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", {"age": 9}),
        ("put", {"name": "Felix", "color": "red", "age": 9, "house_id": 1}),
        ("delete", None),
    ],
)
def test_if_match_stale_etag_is_412_and_changes_nothing(api, method, body):
    etag = etag_of(api, "/cats/Felix")
    # someone else changes the cat in between
    assert api.patch("/cats/Felix", json={"color": "grey"}).status_code == 200
    before = api.snapshot()
    response = getattr(api, method)("/cats/Felix", json=body, headers={"If-Match": etag})
    api.problem(response, 412)
    assert api.snapshot() == before
    assert api.row("cats", name="Felix")["color"] == "grey"


def test_if_match_with_a_made_up_etag_is_412(api):
    before = api.snapshot()
    response = api.patch("/cats/Felix", json={"age": 1}, headers={"If-Match": '"made-up"'})
    api.problem(response, 412)
    assert api.snapshot() == before


def test_if_match_star_on_an_existing_object_passes(api):
    response = api.patch("/cats/Felix", json={"age": 8}, headers={"If-Match": "*"})
    assert response.status_code == 200


def test_write_answers_with_the_new_etag(api):
    response = api.patch("/cats/Felix", json={"age": 8})
    assert response.status_code == 200
    etag = response.headers.get("ETag")
    if etag is not None:  # optional, but when present it must be the current one
        assert api.get("/cats/Felix", headers={"If-None-Match": etag}).status_code == 304


def test_if_match_on_a_composite_key(api):
    etag = etag_of(api, "/memberships/1,2")
    api.patch("/memberships/1,2", json={"role": "coach"})
    response = api.delete("/memberships/1,2", headers={"If-Match": etag})
    api.problem(response, 412)
    assert api.row("memberships", club_id=1, person_id=2)["role"] == "coach"
