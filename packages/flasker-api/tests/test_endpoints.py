"""The endpoints a client sees: index, collections, items, composite keys, unique lookups,
relation collections and positions, and the methods each one refuses."""

from __future__ import annotations

import json

import pytest

# -- index --------------------------------------------------------------------------------------


def test_index_lists_every_collection_and_its_methods(api):
    response = api.get("/")
    assert response.status_code == 200
    text = json.dumps(response.get_json())
    for collection in ("houses", "cats", "toys", "clubs", "persons", "memberships"):
        assert f"/api/{collection}/" in text, collection
    endpoints = {e["path"]: e["methods"] for e in response.get_json()["endpoints"]}
    assert endpoints["/api/houses/"] == ["GET", "POST"]
    assert endpoints["/api/houses/{id}"] == ["GET", "PUT", "PATCH", "DELETE"]
    assert endpoints["/api/houses/{id}/cats/"] == ["GET", "PUT"]
    assert endpoints["/api/houses/{id}/cats/{position}"] == ["GET"]
    assert "/api/memberships/{club_id},{person_id}" in endpoints


def test_unknown_collection_is_a_404_problem(api):
    api.problem(api.get("/dogs/"), 404)


# -- collection ---------------------------------------------------------------------------------


def test_list_returns_the_envelope(api):
    body = api.ok("/houses/")
    assert [h["id"] for h in body["data"]] == [1, 2, 3, 4]
    assert body["data"][0]["address"] == "1 Rue des Chats, Paris"
    meta = body["meta"]
    assert meta["total"] == 4
    assert meta["returned"] == 4
    assert meta["limit"] == 20
    assert meta["offset"] in (0, None)  # no offset asked: the engine says null
    assert meta["next"] is None


def test_list_without_trailing_slash_still_finds_the_collection(api):
    response = api.get("/houses", follow_redirects=True)
    assert response.status_code == 200
    assert len(response.get_json()["data"]) == 4


def test_get_by_primary_key_is_the_bare_object(api):
    body = api.ok("/cats/Felix")
    assert body["name"] == "Felix"
    assert body["color"] == "black"
    assert body["age"] == 3
    assert body["house_id"] == 1
    assert "data" not in body


def test_get_missing_item_is_a_404_problem(api):
    api.problem(api.get("/houses/999"), 404)
    api.problem(api.get("/cats/Nobody"), 404)


def test_get_with_a_key_of_the_wrong_type_is_not_a_500(api):
    response = api.get("/houses/not-a-number")
    api.problem(response, (400, 404))


def test_post_creates_and_answers_201_with_location(api):
    response = api.post("/cats/", json={"name": "Nala", "color": "gold", "age": 4, "house_id": 2})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/api/cats/Nala")
    assert response.get_json()["name"] == "Nala"
    assert api.row("cats", name="Nala") == {
        "name": "Nala",
        "color": "gold",
        "age": 4,
        "house_id": 2,
    }
    again = api.client.get(response.headers["Location"])
    assert again.status_code == 200
    assert again.get_json()["color"] == "gold"


def test_post_with_generated_key_points_location_at_the_new_row(api):
    response = api.post("/houses/", json={"address": "7 New Road"})
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["id"] == 5
    assert created["address"] == "7 New Road"
    assert response.headers["Location"].endswith("/api/houses/5")
    assert api.row("houses", id=5)["address"] == "7 New Road"


def test_post_nullable_fields_may_be_left_out(api):
    response = api.post("/cats/", json={"name": "Shadow"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert api.row("cats", name="Shadow") == {
        "name": "Shadow",
        "color": None,
        "age": None,
        "house_id": None,
    }


def test_write_answers_with_the_new_representation_and_properties(api):
    response = api.patch("/houses/1", json={"address": "2 Rue des Chiens"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["address"] == "2 Rue des Chiens"
    assert body["label"] == "House 1: 2 Rue des Chiens"
    assert body["cat_count"] == 2
    assert body == api.ok("/houses/1")


def test_put_replaces_the_whole_object(api):
    response = api.put("/cats/Felix", json={"name": "Felix", "color": "white", "age": 4})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["color"] == "white"
    # a field left out of a PUT is not kept: the object is replaced
    assert api.row("cats", name="Felix") == {
        "name": "Felix",
        "color": "white",
        "age": 4,
        "house_id": None,
    }


def test_patch_changes_only_the_given_fields(api):
    response = api.patch("/cats/Felix", json={"age": 4})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["age"] == 4
    assert api.row("cats", name="Felix") == {
        "name": "Felix",
        "color": "black",
        "age": 4,
        "house_id": 1,
    }


def test_json_with_a_charset_is_json(api):
    response = api.patch(
        "/cats/Felix", data='{"age": 4}', content_type="application/json; charset=utf-8"
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api.row("cats", name="Felix")["age"] == 4


def test_patch_may_set_a_field_to_null(api):
    response = api.patch("/cats/Felix", json={"house_id": None})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api.row("cats", name="Felix")["house_id"] is None


def test_delete_answers_204_and_removes_the_row(api):
    response = api.delete("/cats/Tom")
    assert response.status_code == 204
    assert response.get_data() == b""
    assert api.row("cats", name="Tom") is None
    api.problem(api.get("/cats/Tom"), 404)


def test_delete_missing_item_is_404(api):
    api.problem(api.delete("/cats/Nobody"), 404)
    assert len(api.rows("cats")) == 7


@pytest.mark.parametrize("method", ["put", "patch"])
def test_writing_a_missing_item_is_404_and_creates_nothing(api, method):
    response = getattr(api, method)("/houses/999", json={"address": "Nowhere"})
    api.problem(response, 404)
    assert api.row("houses", id=999) is None


def test_delete_a_house_keeps_its_cats(api):
    response = api.delete("/houses/1")
    if response.status_code == 409:  # the cats still point at it: refused, nothing changed
        assert api.row("houses", id=1) is not None
        assert api.row("cats", name="Felix")["house_id"] == 1
    else:
        assert response.status_code == 204, response.get_data(as_text=True)
        assert api.row("houses", id=1) is None
        assert api.row("cats", name="Felix")["house_id"] is None
    assert api.row("cats", name="Garfield") is not None


def test_delete_honours_the_model_cascade(api):
    assert api.delete("/clubs/1").status_code == 204
    assert [(m["club_id"], m["person_id"]) for m in api.rows("memberships")] == [(2, 2)]


@pytest.mark.parametrize("name", ["Zoë", "Tom, Jr.", "Mr Whiskers", "a+b"])
def test_keys_that_need_escaping(api, name):
    response = api.post("/cats/", json={"name": name, "age": 2})
    assert response.status_code == 201, response.get_data(as_text=True)
    again = api.client.get(response.headers["Location"])
    assert again.status_code == 200, response.headers["Location"]
    assert again.get_json()["name"] == name
    assert api.client.delete(response.headers["Location"]).status_code == 204
    assert api.row("cats", name=name) is None


# -- composite keys ---------------------------------------------------------------------------


def test_composite_key_get(api):
    body = api.ok("/memberships/1,2")
    assert (body["club_id"], body["person_id"], body["role"]) == (1, 2, "member")


def test_composite_key_order_matters(api):
    assert api.ok("/memberships/2,2")["role"] == "cox"
    api.problem(api.get("/memberships/2,1"), 404)


@pytest.mark.parametrize("key", ["1", "1,2,3"])
def test_composite_key_with_the_wrong_number_of_parts_is_not_found(api, key):
    api.problem(api.get(f"/memberships/{key}"), (400, 404))


def test_composite_key_post_location(api):
    response = api.post("/memberships/", json={"club_id": 2, "person_id": 3, "role": "bow"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/api/memberships/2,3")
    assert api.ok("/memberships/2,3")["role"] == "bow"


def test_composite_key_patch_and_delete(api):
    response = api.patch("/memberships/1,1", json={"role": "coach"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api.row("memberships", club_id=1, person_id=1)["role"] == "coach"
    assert api.delete("/memberships/1,1").status_code == 204
    assert api.row("memberships", club_id=1, person_id=1) is None
    assert len(api.rows("memberships")) == 2


def test_composite_key_put(api):
    response = api.put("/memberships/1,2", json={"club_id": 1, "person_id": 2, "role": "cook"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api.row("memberships", club_id=1, person_id=2)["role"] == "cook"


def test_composite_key_relation_position(api):
    membership = api.ok("/clubs/1/memberships/2")
    assert (membership["club_id"], membership["person_id"]) == (1, 2)
    api.problem(api.get("/clubs/1/memberships/3"), 404)


def test_composite_key_relation_collection(api):
    body = api.ok("/clubs/1/memberships/")
    assert [(m["club_id"], m["person_id"]) for m in body["data"]] == [(1, 1), (1, 2)]


# -- unique lookups ---------------------------------------------------------------------------


def test_lookup_by_a_unique_column(api):
    body = api.ok("/toys/MOUSE-1")
    assert body["id"] == 2
    assert body["sku"] == "MOUSE-1"


def test_lookup_by_primary_key_still_works_beside_a_unique_column(api):
    assert api.ok("/toys/2")["sku"] == "MOUSE-1"


def test_lookup_by_unique_column_of_a_mapped_model(api):
    assert api.ok("/persons/ada@example.org")["name"] == "Ada"


def test_lookup_by_unknown_unique_value_is_404(api):
    api.problem(api.get("/toys/NOPE-9"), 404)


def test_write_through_a_unique_lookup(api):
    response = api.patch("/toys/BALL-1", json={"squeaky": False})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert api.row("toys", id=1)["squeaky"] is False


# -- relation endpoints -----------------------------------------------------------------------


def test_relation_collection_lists_related_rows_only(api):
    body = api.ok("/houses/3/cats/")
    assert sorted(c["name"] for c in body["data"]) == ["Luna", "Mittens", "Salem"]
    assert body["meta"]["total"] == 3


def test_relation_collection_filters_sorts_and_paginates(api):
    body = api.ok("/houses/3/cats/?age=lt.10&sort=-age&limit=1")
    assert [c["name"] for c in body["data"]] == ["Luna"]
    assert body["meta"]["total"] == 2
    assert body["meta"]["next"] is not None
    second = api.client.get(body["meta"]["next"]).get_json()
    assert [c["name"] for c in second["data"]] == ["Mittens"]
    assert second["meta"]["next"] is None


def test_relation_collection_includes_and_fields(api):
    # a relation is asked for with include (fields names columns and properties only)
    cats = api.data("/houses/1/cats/?include=toys&fields=name&fields[toys]=sku")
    assert [(c["name"], [t["sku"] for t in c["toys"]]) for c in cats] == [
        ("Felix", ["BALL-1", "MOUSE-1"]),
        ("Garfield", []),
    ]
    assert "color" not in cats[0]
    # nested objects keep their key beside the fields asked for (the engine's choice)
    assert set(cats[0]["toys"][0]) <= {"id", "sku"}


def test_relation_collection_walks_with_next(api):
    seen = []
    url = api.url("/houses/3/cats/?limit=1&sort=-age")
    while url:
        body = api.client.get(url).get_json()
        seen += [c["name"] for c in body["data"]]
        url = body["meta"]["next"]
    assert seen == ["Salem", "Luna", "Mittens"]


def test_relation_collection_of_an_empty_relation(api):
    body = api.ok("/houses/4/cats/")
    assert body["data"] == []
    assert body["meta"]["total"] == 0


def test_relation_collection_of_a_missing_parent_is_404(api):
    api.problem(api.get("/houses/999/cats/"), 404)


def test_unknown_relation_is_404(api):
    api.problem(api.get("/houses/1/dogs/"), 404)


def test_relation_collection_rejects_unknown_parameters(api):
    api.problem(api.get("/houses/1/cats/?colour=black"), 400, parameter="colour")


@pytest.mark.parametrize(("position", "name"), [(1, "Luna"), (2, "Mittens"), (3, "Salem")])
def test_relation_position_is_one_based(api, position, name):
    assert api.ok(f"/houses/3/cats/{position}")["name"] == name


@pytest.mark.parametrize("position", ["0", "4", "99"])
def test_relation_position_out_of_range_is_404(api, position):
    api.problem(api.get(f"/houses/3/cats/{position}"), 404)


def test_relation_position_of_missing_parent_is_404(api):
    api.problem(api.get("/houses/999/cats/1"), 404)


def test_relation_put_replaces_the_set(api):
    response = api.put("/houses/1/cats/", json=["Tom", "Luna"])
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert sorted(c["name"] for c in api.data("/houses/1/cats/")) == ["Luna", "Tom"]
    # the cats that left are homeless, the others moved
    assert api.row("cats", name="Felix")["house_id"] is None
    assert api.row("cats", name="Garfield")["house_id"] is None
    assert api.row("cats", name="Tom")["house_id"] == 1
    assert api.row("cats", name="Luna")["house_id"] == 1
    assert sorted(c["name"] for c in api.data("/houses/3/cats/")) == ["Mittens", "Salem"]


def test_relation_put_with_an_empty_list_empties_the_set(api):
    response = api.put("/houses/3/cats/", json=[])
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert api.data("/houses/3/cats/") == []
    assert api.row("cats", name="Salem")["house_id"] is None


def test_relation_put_with_an_unknown_key_changes_nothing(api):
    before = api.snapshot()
    response = api.put("/houses/1/cats/", json=["Tom", "Nobody"])
    api.problem(response, (404, 409, 422))
    assert api.snapshot() == before


def test_relation_put_needs_a_list(api):
    before = api.snapshot()
    api.problem(api.put("/houses/1/cats/", json={"name": "Tom"}), (400, 422))
    assert api.snapshot() == before


def test_to_one_relation_endpoint(api):
    assert api.ok("/cats/Felix/house")["address"] == "1 Rue des Chats, Paris"


# -- methods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/houses/"),
        ("patch", "/houses/"),
        ("put", "/houses/"),
        ("post", "/houses/1"),
        ("post", "/houses/1/cats/"),
        ("delete", "/houses/1/cats/"),
        ("post", "/houses/1/cats/1"),
        ("delete", "/houses/1/cats/1"),
    ],
)
def test_methods_an_endpoint_does_not_have_are_405(api, method, path):
    before = api.snapshot()
    response = getattr(api, method)(path, json={"address": "x"})
    api.problem(response, 405)
    assert "GET" in response.headers.get("Allow", "")
    assert api.snapshot() == before


def test_head_and_options_do_not_change_data(api):
    before = api.snapshot()
    assert api.client.head("/api/houses/").status_code == 200
    assert api.client.options("/api/houses/1").status_code in (200, 204)
    assert api.snapshot() == before
