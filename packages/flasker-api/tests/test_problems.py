"""Every error a client can cause is an `application/problem+json` answer naming what is wrong
(a query parameter or a JSON pointer into the body), never a 500, and leaves the data as it was."""

from __future__ import annotations

import pytest


@pytest.fixture
def unchanged(api):
    """Fail the test if the data changed (every request here is refused)."""
    before = api.snapshot()
    yield
    assert api.snapshot() == before


pytestmark = pytest.mark.usefixtures("unchanged")


# -- bodies: 422 with a pointer -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "Nala", "colour": "gold"}, "/colour"),
        ({"name": "Nala", "age": "old"}, "/age"),
        ({"name": "Nala", "age": 3.5}, "/age"),
        ({"name": "Nala", "age": True}, "/age"),
        ({"name": "Nala", "age": [3]}, "/age"),
        ({"name": 42}, "/name"),
        ({"name": "Nala", "house_id": "one"}, "/house_id"),
        ({"color": "gold"}, "/name"),
        ({"name": None}, "/name"),
        ({"name": "N" * 65}, "/name"),
    ],
)
def test_post_bad_body_is_422_with_a_pointer(api, body, pointer):
    api.problem(api.post("/cats/", json=body), 422, pointer=pointer)


def test_post_missing_required_field(api):
    api.problem(api.post("/houses/", json={}), 422, pointer="/address")


def test_every_problem_of_a_body_is_reported_at_once(api):
    body = api.problem(api.post("/cats/", json={"name": "Nala", "age": "old", "colour": "x"}), 422)
    pointers = {e.get("pointer") for e in body["errors"]}
    assert {"/age", "/colour"} <= pointers


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"kind": "dragon"}, "/kind"),
        ({"price": "cheap"}, "/price"),
        ({"bought": "yesterday"}, "/bought"),
        ({"bought": "2024-02-30"}, "/bought"),
        ({"last_played": "soon"}, "/last_played"),
        ({"squeaky": "yes"}, "/squeaky"),
        ({"sku": 123}, "/sku"),
        ({"sku": None}, "/sku"),
        ({"sku": "S" * 33}, "/sku"),
        ({"id": "x"}, "/id"),
    ],
)
def test_patch_typed_columns_with_wrong_values(api, body, pointer):
    api.problem(api.patch("/toys/1", json=body), 422, pointer=pointer)


def test_put_missing_required_field(api):
    api.problem(api.put("/houses/1", json={"id": 1}), 422, pointer="/address")


def test_patch_unknown_field(api):
    api.problem(api.patch("/houses/1", json={"adress": "typo"}), 422, pointer="/adress")


def test_mapped_model_required_fields(api):
    api.problem(api.post("/persons/", json={"email": "x@example.org"}), 422, pointer="/name")


@pytest.mark.parametrize("body", ["[]", '[{"name": "Nala"}]', '"Nala"', "3", "null"])
def test_body_that_is_not_an_object(api, body):
    response = api.post("/cats/", data=body, content_type="application/json")
    api.problem(response, (400, 422))


# -- bodies: syntax and content type ------------------------------------------------------------


@pytest.mark.parametrize("data", ['{"name": "Nala"', "not json", "", '{"name": "Nala"} x'])
def test_invalid_json_is_400(api, data):
    response = api.post("/cats/", data=data, content_type="application/json")
    api.problem(response, 400)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_body_that_is_not_json_is_415(api, content_type):
    response = api.post("/cats/", data='{"name": "Nala"}', content_type=content_type)
    api.problem(response, 415)


def test_no_content_type_is_415(api):
    api.problem(api.patch("/cats/Felix", data=b'{"age": 1}'), 415)


# -- constraints: 409 -------------------------------------------------------------------------


def test_duplicate_primary_key_is_409(api):
    response = api.post("/cats/", json={"name": "Felix", "color": "white"})
    api.problem(response, 409)


def test_duplicate_composite_key_is_409(api):
    api.problem(api.post("/memberships/", json={"club_id": 1, "person_id": 1}), 409)


def test_duplicate_generated_key_given_by_hand_is_409(api):
    api.problem(api.post("/houses/", json={"id": 1, "address": "Again"}), 409)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/cats/", {"name": "Nala", "house_id": 999}),
        ("/toys/", {"sku": "X-1", "kind": "ball", "cat_name": "Nobody"}),
        ("/memberships/", {"club_id": 9, "person_id": 1}),
    ],
)
def test_foreign_key_violation_on_create_is_409(api, path, body):
    api.problem(api.post(path, json=body), 409)


def test_foreign_key_violation_on_update_is_409(api):
    api.problem(api.patch("/cats/Felix", json={"house_id": 999}), 409)


def test_unique_violation_on_create_is_409(api):
    response = api.post("/toys/", json={"sku": "BALL-1", "kind": "ball"})
    api.problem(response, 409)


def test_unique_violation_on_update_is_409(api):
    api.problem(api.patch("/toys/2", json={"sku": "BALL-1"}), 409)
    api.problem(api.patch("/persons/2", json={"email": "ada@example.org"}), 409)


def test_deleting_a_referenced_row_is_409(api):
    # memberships point at people and nothing cascades from Person
    api.problem(api.delete("/persons/1"), 409)


def test_changing_a_key_is_refused(api):
    # the engine refuses any change of a primary key (it names the entity), taken or not
    api.problem(api.patch("/cats/Tom", json={"name": "Felix"}), 422, pointer="/name")
    api.problem(api.patch("/cats/Tom", json={"name": "Thomas"}), 422, pointer="/name")


# -- queries: 400 naming the parameter ------------------------------------------------------------


def test_problem_names_every_bad_parameter(api):
    body = api.problem(api.get("/cats/?colour=x&limit=big&sort=nope"), 400)
    parameters = {e.get("parameter") for e in body["errors"]}
    assert {"colour", "limit", "sort"} <= parameters


def test_limit_over_max_limit_says_the_maximum(api):
    api.problem(api.get("/cats/?limit=5000"), 400, parameter="limit", mentions=["1000"])


def test_depth_over_max_depth_says_the_maximum(api):
    api.problem(api.get("/houses/1?depth=9"), 400, parameter="depth", mentions=["3"])


def test_include_deeper_than_max_depth(api):
    response = api.get("/houses/1?include=cats.house.cats.house")
    api.problem(response, 400, parameter="include")


def test_unknown_relation_in_include_is_named(api):
    api.problem(
        api.get("/houses/?include=cats.fleas"), 400, parameter="include", mentions=["fleas"]
    )


def test_bad_operator_is_named(api):
    api.problem(api.get("/cats/?age=around.3"), 400, parameter="age")


def test_like_on_a_number_is_400(api):
    api.problem(api.get("/cats/?age=like.*3*"), 400, parameter="age")


# -- hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/cats/%00",
        "/cats/?name=eq.%00",
        "/cats/?name=in.(" + ",".join(["x"] * 5000) + ")",
        "/houses/99999999999999999999999",
        "/houses/?id=gt.99999999999999999999999",
        "/houses/-1",
        "/cats/?sort=" + ",".join(["name"] * 50),
        "/houses/?include=" + ",".join(["cats"] * 50),
        "/cats/?or=" + "(" * 200 + ")" * 200,
        "/toys/?specs=eq.{}",
    ],
)
def test_hostile_queries_never_500(api, path):
    response = api.get(path)
    assert response.status_code < 500, (path, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Nala\x00"},
        {"name": "Nala", "age": 10**30},
        {"name": "Nala", "age": -(10**30)},
        {"name": "Nala", "age": float("inf")},
    ],
)
def test_hostile_bodies_never_500(api, body):
    import json

    data = json.dumps(body)  # inf becomes Infinity, which is not JSON
    response = api.post("/cats/", data=data, content_type="application/json")
    api.problem(response, (400, 422))


@pytest.mark.parametrize(
    "body",
    [
        '["Tom", 5]',
        '[["Tom"]]',
        "[null]",
        '[{"name": "Tom"}, {"nope": 1}]',
        '"Tom"',
        '["Tom", "Tom", "Nobody"]',
        '["Tom\\u0000"]',
    ],
)
def test_hostile_relation_sets_never_500(api, body):
    response = api.put("/houses/1/cats/", data=body, content_type="application/json")
    api.problem(response, (400, 404, 409, 422))


@pytest.mark.parametrize(
    "body",
    [
        {"price": "1e400"},
        {"price": "NaN"},
        {"price": 10**40},
        {"bought": "0000-00-00"},
        {"last_played": "2024-02-30T25:61:00"},
    ],
)
def test_hostile_typed_values_never_500(api, body):
    import json

    response = api.patch("/toys/2", data=json.dumps(body), content_type="application/json")
    api.problem(response, (400, 422))


def test_unknown_path_under_the_prefix_is_a_problem_not_html(api):
    response = api.get("/houses/1/cats/1/more")
    api.problem(response, 404)
    assert "Traceback" not in response.get_data(as_text=True)
