"""The API of a flasker 0.1 project, written as its README wrote it, answers as 0.1 promised.

The project below is the README's sample file ("Here is a very simple sample file") with the one
import it forgot (`relationship`), a model with a composite key, and the two hooks written with
0.1's arguments. Each behaviour of shared/reference/flasker-0.1-behaviours.md ("REST API
extension") that we keep, and the test that asserts it (here, or where it already was):

- "Options (kwargs or an [API] section): URL_PREFIX /api, ADD_ALL_MODELS, DEFAULT_LIMIT 20":
  test_the_readme_endpoints_exist_with_their_methods (kwargs, /api),
  test_default_limit_is_20_and_max_limit_bounds_it;
  test_manager.py::test_url_prefix_from_the_cfg, ::test_default_limit_from_the_cfg.
- "add_model(Model, relationships=…, methods=…), add_all_models()":
  test_manager.py::test_methods_of_add_model, ::test_relationships_of_add_model;
  here add_all_models=True.
- "hooks authorize(endpoint, method) → 403": test_authorize_with_0_1s_two_arguments_is_403.
- "validate(model, json) → 400": test_validate_refuses_the_write (422 here: see the differences
  below).
- "/api/ lists every endpoint with its methods": test_the_readme_endpoints_exist_with_their_methods.
- "/<table> GET POST; /<table>/<pk> GET PUT DELETE": test_the_readme_endpoints_answer.
- "(composite keys)": test_composite_keys_name_an_entity_by_its_parts.
- "/<table>/<pk>/<relation> GET (filter/sort/limit on dynamic relations)":
  test_relation_endpoint_filters_sorts_and_pages,
  test_a_dynamic_relation_has_its_endpoint_and_is_never_nested; the README's "(GET, PUT)":
  test_relation_put_replaces_the_set.
- "/<table>/<pk>/<relation>/<position> GET, position counted from 1":
  test_relation_position_counts_from_1.
- "Query string: depth, limit, offset": test_depth_nests_related_models_without_repeating_them,
  test_limit_and_offset_page_through_the_collection.
- "Any other parameter → 400 naming it and the allowed ones":
  test_unknown_parameter_is_400_naming_it_and_the_allowed_ones (0.1's own `filter`, `expand`
  included, so a 0.1 client learns the new syntax instead of getting everything unfiltered).
- "Collection response: data list plus matches {total, returned}":
  test_limit_and_offset_page_through_the_collection (`meta.total`, `meta.returned`).
- "Errors as JSON with the HTTP status and a message": every `api.problem(...)` here.
- "EXPAND off: an entity already serialised is replaced by its key ('no repetition')":
  test_depth_nests_related_models_without_repeating_them (always so here).
- "MAX_LIMIT (0 = none)": test_max_limit_0_means_no_maximum.
- "EXPAND (when off, an entity already serialised is replaced by its key)" as an [API] key:
  test_expand_false_loads_and_expand_true_is_refused_naming_its_line.
- "Tables were created at start-up (create_all) when the API was registered":
  test_tables_are_created_at_start_up.

Differences on purpose (documented in flasker-api's README.md and DESIGN.md, issue #4): filters
are `?name=eq.Tom` (PostgREST) instead of `filter=name;eq;Tom`, sort is `sort=-name` instead of
`sort=name;desc`, `include=` / `depth=` always write an entity once (no `expand`), the list
envelope is `{"data", "meta"}` without the request echo and timings, validate's refusal is 422
(the body is wrong, the request is well formed), DEFAULT_DEPTH is 0 and MAX_LIMIT 1000.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from flasker import ConfigError

README_SAMPLE = """
    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model
    from sqlalchemy import Column, ForeignKey, Integer, Unicode
    from sqlalchemy.orm import relationship

    # Create the APIManager

    api_manager = APIManager(add_all_models=True)
    current_project.register_manager(api_manager)

    # Define the models

    class House(Model):

      id = Column(Integer, primary_key=True)
      address = Column(Unicode(128))

    class Cat(Model):

      name = Column(Unicode(64), primary_key=True)
      house_id = Column(ForeignKey('houses.id'))
      house = relationship('House', backref='cats')

    class Visit(Model):

      house_id = Column(ForeignKey('houses.id'), primary_key=True)
      day = Column(Integer, primary_key=True)
      guest = Column(Unicode(64))

    # The hooks, with the arguments flasker 0.1 gave them

    from flask import request

    @api_manager.authorize
    def authorize(endpoint, method):
      return not request.headers.get('X-Deny')

    @api_manager.validate
    def validate(model, json):
      if model is Cat and str(json.get('name', 'X'))[:1].islower():
        return {'name': 'a cat name starts with a capital letter'}
"""

SEED = {
    "houses": [{"id": i, "address": f"{i} Main Street"} for i in range(1, 26)],
    "cats": [
        {"name": "Felix", "house_id": 1},
        {"name": "Garfield", "house_id": 1},
        {"name": "Tom", "house_id": 2},
        {"name": "Azrael", "house_id": 1},
    ],
    "visits": [
        {"house_id": 1, "day": 1, "guest": "Ada"},
        {"house_id": 1, "day": 2, "guest": "Bob"},
        {"house_id": 2, "day": 1, "guest": "Cy"},
    ],
}


@pytest.fixture(scope="module")
def project_0_1(backend_isolated, make_api):
    return make_api(README_SAMPLE, SEED)


@pytest.fixture
def api(project_0_1):
    project_0_1.reseed()
    return project_0_1


def test_tables_are_created_at_start_up(api):
    tables = set(sa.inspect(api.engine).get_table_names())
    assert {"houses", "cats", "visits"} <= tables


def test_the_readme_endpoints_exist_with_their_methods(api):
    """The README's list of endpoints, as `/api/` shows them."""
    endpoints = {e["path"]: e["methods"] for e in api.ok("/")["endpoints"]}
    assert set(endpoints["/api/houses/"]) >= {"GET", "POST"}
    assert set(endpoints["/api/houses/{id}"]) >= {"GET", "PUT", "DELETE"}
    assert set(endpoints["/api/houses/{id}/cats/"]) >= {"GET", "PUT"}
    assert endpoints["/api/houses/{id}/cats/{position}"] == ["GET"]
    assert set(endpoints["/api/cats/"]) >= {"GET", "POST"}
    assert set(endpoints["/api/cats/{name}"]) >= {"GET", "PUT", "DELETE"}
    assert "/api/visits/{house_id},{day}" in endpoints


def test_the_readme_endpoints_answer(api):
    assert api.ok("/houses/2") == {"id": 2, "address": "2 Main Street"}
    assert api.ok("/cats/Tom") == {"name": "Tom", "house_id": 2}
    created = api.post("/cats/", json={"name": "Salem", "house_id": 3})
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.headers["Location"].endswith("/api/cats/Salem")
    replaced = api.put("/houses/3", json={"address": "3 Other Street"})
    assert replaced.status_code == 200, replaced.get_data(as_text=True)
    assert api.row("houses", id=3)["address"] == "3 Other Street"
    assert api.delete("/cats/Salem").status_code == 204
    assert api.row("cats", name="Salem") is None
    api.problem(api.get("/cats/Salem"), 404)


def test_composite_keys_name_an_entity_by_its_parts(api):
    assert api.ok("/visits/1,2") == {"house_id": 1, "day": 2, "guest": "Bob"}
    api.problem(api.get("/visits/2,2"), 404)
    assert api.delete("/visits/2,1").status_code == 204
    assert api.row("visits", house_id=2, day=1) is None


def test_relation_position_counts_from_1(api):
    """Positions follow the relation's order; with no order_by that is the key's."""
    cats = api.names("/houses/1/cats/")
    assert sorted(cats) == ["Azrael", "Felix", "Garfield"]
    for position, name in enumerate(cats, start=1):
        assert api.ok(f"/houses/1/cats/{position}")["name"] == name
    api.problem(api.get("/houses/1/cats/0"), 404)
    api.problem(api.get("/houses/1/cats/4"), 404)


def test_relation_put_replaces_the_set(api):
    response = api.put("/houses/2/cats/", json=["Felix", "Tom"])
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert sorted(api.names("/houses/2/cats/")) == ["Felix", "Tom"]
    assert api.row("cats", name="Felix")["house_id"] == 2


def test_relation_endpoint_filters_sorts_and_pages(api):
    assert api.names("/houses/1/cats/?sort=-name&limit=2") == ["Garfield", "Felix"]
    assert api.names("/houses/1/cats/?sort=name&offset=1&limit=1") == ["Felix"]
    assert api.names("/houses/1/cats/?name=like.G*") == ["Garfield"]


def test_depth_nests_related_models_without_repeating_them(api):
    cats = api.data("/cats/?depth=1&sort=name&house_id=eq.1")
    houses = [cat["house"] for cat in cats]
    # the first cat carries its house; the others, in the same house, carry only its key
    assert houses[0] == {"id": 1, "address": "1 Main Street"}
    assert houses[1:] == [1, 1]
    house = api.ok("/houses/1?depth=1")
    assert sorted(cat["name"] for cat in house["cats"]) == ["Azrael", "Felix", "Garfield"]


def test_limit_and_offset_page_through_the_collection(api):
    body = api.ok("/houses/?limit=10&offset=20&sort=id")
    assert [house["id"] for house in body["data"]] == [21, 22, 23, 24, 25]
    assert body["meta"]["total"] == 25
    assert body["meta"]["returned"] == 5


def test_default_limit_is_20_and_max_limit_bounds_it(api):
    body = api.ok("/houses/")
    assert body["meta"]["returned"] == 20
    assert body["meta"]["total"] == 25
    api.problem(api.get("/houses/?limit=1001"), 400, parameter="limit")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("filter=name;eq;Tom", "filter"),
        ("expand=0", "expand"),
        ("colour=black", "colour"),
    ],
)
def test_unknown_parameter_is_400_naming_it_and_the_allowed_ones(api, query, parameter):
    body = api.problem(api.get(f"/cats/?{query}"), 400, parameter=parameter)
    for allowed in ("name", "sort", "limit", "offset", "depth"):
        assert allowed in str(body), allowed


def test_0_1_sort_syntax_is_a_400_naming_sort(api):
    api.problem(api.get("/cats/?sort=name;desc"), 400, parameter="sort")


def test_authorize_with_0_1s_two_arguments_is_403(api):
    before = api.snapshot()
    api.problem(api.get("/cats/", headers={"X-Deny": "1"}), 403)
    api.problem(api.delete("/cats/Tom", headers={"X-Deny": "1"}), 403)
    assert api.snapshot() == before
    assert api.get("/cats/").status_code == 200


def test_validate_refuses_the_write(api):
    before = api.snapshot()
    body = api.problem(api.post("/cats/", json={"name": "salem"}), 422, pointer="/name")
    assert "capital letter" in str(body)
    assert api.snapshot() == before


OWLS = """
    from sqlalchemy import Column, Integer

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    current_project.register_manager(APIManager(add_all_models=True))

    class Owl(Model):
      id = Column(Integer, primary_key=True)
"""


def test_max_limit_0_means_no_maximum(project_0_1, make_api):
    """A 0.1 cfg's `MAX_LIMIT = 0` (and `EXPAND = false`, what this API always does) loads."""
    owls = make_api(
        OWLS, {"owls": [{"id": i} for i in range(1, 1101)]}, "MAX_LIMIT = 0\nEXPAND = false"
    )
    body = owls.ok("/owls/?limit=5000")
    assert body["meta"]["returned"] == 1100


def test_expand_false_loads_and_expand_true_is_refused_naming_its_line(project_0_1, make_api):
    with pytest.raises(ConfigError) as raised:
        make_api(OWLS.replace("Owl", "Lark"), {}, "EXPAND = true")
    message = str(raised.value)
    assert "default.cfg:7: [API] EXPAND: flasker 0.1's EXPAND = true" in message
    assert "every entity is written once per response" in message


DYNAMIC = """
    from sqlalchemy import Column, ForeignKey, Integer, Unicode
    from sqlalchemy.orm import backref, relationship

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    current_project.register_manager(APIManager(add_all_models=True))

    class Barn(Model):
      id = Column(Integer, primary_key=True)

    class Hen(Model):
      id = Column(Integer, primary_key=True)
      name = Column(Unicode(64))
      barn_id = Column(ForeignKey('barns.id'))
      barn = relationship('Barn', backref=backref('hens', lazy='dynamic'))
"""


def test_a_dynamic_relation_has_its_endpoint_and_is_never_nested(project_0_1, make_api):
    """0.1 users wrote `backref(..., lazy='dynamic')` for relations too big to load at once."""
    barns = make_api(
        DYNAMIC,
        {
            "barns": [{"id": 1}],
            "hens": [{"id": i, "name": f"m{i:02}", "barn_id": 1} for i in range(1, 31)],
        },
    )
    page = barns.ok("/barns/1/hens/?sort=-name&limit=3&name=like.m1*")
    assert [hen["name"] for hen in page["data"]] == ["m19", "m18", "m17"]
    assert page["meta"]["total"] == 10
    assert barns.ok("/barns/1/hens/30")["name"] == "m30"
    assert "hens" not in barns.ok("/barns/1?depth=1")
    barns.problem(barns.get("/barns/?include=hens"), 400, parameter="include", mentions=["hens"])
