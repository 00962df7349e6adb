"""The manager: `[API]` options from the cfg file (and keyword arguments over them), per-model
methods and exclusions, READ_ONLY, and the `authorize` (403) and `validate` (422) hooks."""

from __future__ import annotations

import pytest

from flasker import load_config
from flasker.exceptions import FlaskerError

# Every project of this module shares its database, so each has tables of its own.
CONFIGURED = """
    from sqlalchemy import Column, ForeignKey, Integer, Unicode
    from sqlalchemy.orm import relationship

    from flask import request

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager())


    class Shelter(Model):
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)

        dogs = relationship("Dog", back_populates="shelter", order_by="Dog.id")


    class Dog(Model):
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64), nullable=False)
        shelter_id = Column(ForeignKey("shelters.id"))

        shelter = relationship("Shelter", back_populates="dogs")


    @api.authorize
    def may(endpoint, method, model):
        if model is Dog and request.headers.get("X-Deny"):
            return False
        return not (model is Shelter and method == "DELETE")


    @api.validate
    def check(model, payload):
        if model is Dog and str(payload.get("name", "X"))[:1].islower():
            return {"name": "must start with a capital letter"}
        if model is Shelter and len(str(payload.get("name", "long enough"))) < 3:
            return ["the name is too short", "try three letters or more"]
        return None
"""

CONFIGURED_CFG = """
    URL_PREFIX = /v1
    ADD_ALL_MODELS = true
    DEFAULT_LIMIT = 2
    MAX_LIMIT = 5
    DEFAULT_DEPTH = 1
    MAX_DEPTH = 1
    COUNT = none
    METHODS = {"dogs": ["GET", "POST", "PATCH"]}
"""

CONFIGURED_SEED = {
    "shelters": [{"id": 1, "name": "North"}, {"id": 2, "name": "South"}],
    "dogs": [
        {"id": i, "name": name, "shelter_id": 1 + i % 2}
        for i, name in enumerate(["Rex", "Fido", "Bella", "Max", "Luna", "Rocky", "Daisy"], 1)
    ],
}

READ_ONLY = """
    from sqlalchemy import Column, Integer, Unicode

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(add_all_models=True))


    class Barn(Model):
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64))
"""

EXPLICIT = """
    from sqlalchemy import Column, ForeignKey, Integer, Unicode
    from sqlalchemy.orm import relationship

    from flasker import current_project
    from flasker.ext.api import APIManager
    from flasker.util import Model

    api = current_project.register_manager(APIManager(url_prefix="/rest", default_limit=3))


    class Farm(Model):
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64))
        secret = Column(Unicode(64))

        cows = relationship("Cow", back_populates="farm")
        pigs = relationship("Pig")


    class Cow(Model):
        id = Column(Integer, primary_key=True)
        name = Column(Unicode(64))
        farm_id = Column(ForeignKey("farms.id"))

        farm = relationship("Farm", back_populates="cows")


    class Pig(Model):
        id = Column(Integer, primary_key=True)
        farm_id = Column(ForeignKey("farms.id"))


    api.add_model(Farm, methods=["GET"], exclude=["secret"], relationships=["cows"])
    api.add_model(Cow)
"""


@pytest.fixture(scope="module")
def configured(make_api):
    return make_api(CONFIGURED, CONFIGURED_SEED, api_cfg=CONFIGURED_CFG, prefix="/v1")


@pytest.fixture(scope="module")
def read_only(make_api):
    seed = {"barns": [{"id": 1, "name": "Red"}]}
    return make_api(READ_ONLY, seed, api_cfg="READ_ONLY = true", prefix="/api")


@pytest.fixture(scope="module")
def explicit(make_api):
    seed = {
        "farms": [{"id": 1, "name": "Sunny", "secret": "gold under the tree"}],
        "cows": [{"id": i, "name": f"Cow {i}", "farm_id": 1} for i in range(1, 6)],
        "pigs": [{"id": 1, "farm_id": 1}],
    }
    return make_api(EXPLICIT, seed, api_cfg="URL_PREFIX = /cfg", prefix="/rest")


@pytest.fixture
def shelters(configured):
    configured.reseed()
    return configured


# -- options from the cfg file ----------------------------------------------------------------


def test_url_prefix_from_the_cfg(shelters):
    assert shelters.client.get("/v1/dogs/").status_code == 200
    assert shelters.client.get("/api/dogs/").status_code == 404


def test_index_under_the_prefix(shelters):
    response = shelters.client.get("/v1/")
    assert response.status_code == 200
    assert "/v1/dogs/" in response.get_data(as_text=True)


def test_default_limit_from_the_cfg(shelters):
    body = shelters.ok("/dogs/")
    assert body["meta"]["limit"] == 2
    assert [d["name"] for d in body["data"]] == ["Rex", "Fido"]
    assert body["meta"]["next"] is not None


def test_max_limit_from_the_cfg(shelters):
    assert shelters.ok("/dogs/?limit=5")["meta"]["returned"] == 5
    shelters.problem(shelters.get("/dogs/?limit=6"), 400, parameter="limit", mentions=["5"])


def test_count_none_from_the_cfg_and_exact_on_request(shelters):
    assert shelters.ok("/dogs/")["meta"].get("total") is None
    assert shelters.ok("/dogs/?count=exact")["meta"]["total"] == 7


def test_default_depth_from_the_cfg(shelters):
    shelter = shelters.ok("/shelters/1")
    assert [d["name"] for d in shelter["dogs"]] == ["Fido", "Max", "Rocky"]
    flat = shelters.ok("/shelters/1?depth=0")
    assert not any(isinstance(dog, dict) for dog in flat.get("dogs") or [])


def test_max_depth_from_the_cfg(shelters):
    shelters.problem(shelters.get("/shelters/1?depth=2"), 400, parameter="depth")
    shelters.problem(shelters.get("/shelters/1?include=dogs.shelter"), 400, parameter="include")


def test_methods_per_collection_from_the_cfg(shelters):
    before = shelters.snapshot()
    response = shelters.delete("/dogs/1")
    shelters.problem(response, 405)
    assert "DELETE" not in response.headers.get("Allow", "")
    shelters.problem(shelters.put("/dogs/1", json={"name": "Rex"}), 405)
    assert shelters.snapshot() == before
    assert shelters.patch("/dogs/1", json={"name": "Rexy"}).status_code == 200


def test_bad_api_option_in_the_cfg_is_an_error_at_load(tmp_path):
    cfg = tmp_path / "default.cfg"
    cfg.write_text("[PROJECT]\nMODULES = nothing\n\n[API]\nMAX_LIMIT = lots\n")
    with pytest.raises(FlaskerError, match="MAX_LIMIT"):
        load_config(cfg, environ={})


def test_unknown_api_option_in_the_cfg_is_an_error_at_load(tmp_path):
    cfg = tmp_path / "default.cfg"
    cfg.write_text("[PROJECT]\nMODULES = nothing\n\n[API]\nMAX_LIMT = 5\n")
    with pytest.raises(FlaskerError, match="MAX_LIMT"):
        load_config(cfg, environ={})


# -- hooks ------------------------------------------------------------------------------------


def test_authorize_false_is_403_and_changes_nothing(shelters):
    before = shelters.snapshot()
    shelters.problem(shelters.delete("/shelters/2"), 403)
    assert shelters.snapshot() == before


def test_authorize_true_lets_the_request_through(shelters):
    assert shelters.get("/shelters/2").status_code == 200
    response = shelters.post("/shelters/", json={"name": "East"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/v1/shelters/3")


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/dogs/"), ("get", "/dogs/1"), ("get", "/shelters/1/dogs/"), ("post", "/dogs/")],
)
def test_authorize_applies_to_reads_and_relation_endpoints(shelters, method, path):
    # /shelters/1/dogs/ answers dogs: refusing Dog must refuse it too
    before = shelters.snapshot()
    response = getattr(shelters, method)(path, json={"name": "Spot"}, headers={"X-Deny": "1"})
    shelters.problem(response, 403)
    assert "Rex" not in response.get_data(as_text=True)
    assert shelters.snapshot() == before


def test_validate_messages_by_field_are_422_with_pointers(shelters):
    before = shelters.snapshot()
    response = shelters.post("/dogs/", json={"name": "rex"})
    shelters.problem(response, 422, pointer="/name", mentions=["must start with a capital letter"])
    assert shelters.snapshot() == before


def test_validate_runs_on_updates(shelters):
    before = shelters.snapshot()
    response = shelters.patch("/dogs/1", json={"name": "rex"})
    shelters.problem(response, 422, pointer="/name")
    assert shelters.snapshot() == before


def test_validate_list_of_messages_is_422_with_every_message(shelters):
    before = shelters.snapshot()
    response = shelters.post("/shelters/", json={"name": "W"})
    shelters.problem(response, 422, mentions=["the name is too short", "try three letters or more"])
    assert shelters.snapshot() == before


def test_validate_none_lets_the_write_through(shelters):
    response = shelters.post("/dogs/", json={"name": "Buddy", "shelter_id": 2})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert shelters.row("dogs", name="Buddy")["shelter_id"] == 2


# -- READ_ONLY ----------------------------------------------------------------------------------


def test_read_only_serves_gets(read_only):
    assert read_only.data("/barns/") == [{"id": 1, "name": "Red"}]
    assert read_only.ok("/barns/1") == {"id": 1, "name": "Red"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/barns/"), ("put", "/barns/1"), ("patch", "/barns/1"), ("delete", "/barns/1")],
)
def test_read_only_refuses_writes_with_405(read_only, method, path):
    response = getattr(read_only, method)(path, json={"id": 1, "name": "Blue"})
    read_only.problem(response, 405)
    assert read_only.rows("barns") == [{"id": 1, "name": "Red"}]


# -- add_model: methods, exclude, relationships; keyword arguments win --------------------------


def test_keyword_arguments_win_over_the_cfg(explicit):
    assert explicit.client.get("/rest/cows/").status_code == 200
    assert explicit.client.get("/cfg/cows/").status_code == 404
    assert explicit.ok("/cows/")["meta"]["limit"] == 3


def test_only_added_models_are_served(explicit):
    explicit.problem(explicit.get("/pigs/"), 404)
    assert "/rest/pigs/" not in explicit.client.get("/rest/").get_data(as_text=True)


def test_excluded_fields_are_never_shown(explicit):
    farm = explicit.ok("/farms/1")
    assert farm["name"] == "Sunny"
    assert "secret" not in farm
    assert "gold" not in explicit.get("/farms/?depth=1").get_data(as_text=True)
    assert "gold" not in explicit.get("/cows/1?include=farm").get_data(as_text=True)


def test_excluded_fields_cannot_be_filtered_sorted_or_selected(explicit):
    explicit.problem(explicit.get("/farms/?secret=gold*"), 400, parameter="secret")
    explicit.problem(explicit.get("/farms/?sort=secret"), 400, parameter="sort")
    explicit.problem(explicit.get("/farms/?fields=secret"), 400, parameter="fields")
    explicit.problem(explicit.get("/farms/?or=(secret.like.g*)"), 400, parameter="or")


def test_methods_of_add_model(explicit):
    explicit.problem(explicit.post("/farms/", json={"name": "Rainy"}), 405)
    explicit.problem(explicit.delete("/farms/1"), 405)
    assert explicit.rows("farms")[0]["name"] == "Sunny"


def test_relationships_of_add_model(explicit):
    assert explicit.ok("/farms/1/cows/")["meta"]["total"] == 5
    explicit.problem(explicit.get("/farms/1/pigs/"), 404)
    explicit.problem(explicit.get("/farms/1?include=pigs"), 400, parameter="include")


def test_index_shows_the_methods_of_each_model(explicit):
    endpoints = {e["path"]: e["methods"] for e in explicit.ok("/")["endpoints"]}
    assert endpoints["/rest/farms/"] == ["GET"]
    assert endpoints["/rest/cows/"] == ["GET", "POST"]
    assert not any("pigs" in path for path in endpoints)


def test_index_under_read_only(read_only):
    endpoints = {e["path"]: e["methods"] for e in read_only.ok("/")["endpoints"]}
    assert endpoints["/api/barns/"] == ["GET"]


@pytest.mark.parametrize(
    "path", ["/shelters/1?include=dogs", "/shelters/?include=dogs", "/shelters/1?depth=1"]
)
def test_authorize_applies_to_models_nested_by_include(shelters, path):
    """A refused model must not be readable nested inside an allowed one."""
    response = shelters.get(path, headers={"X-Deny": "1"})
    shelters.problem(response, 403)
    assert "Rex" not in response.get_data(as_text=True)
    assert shelters.get(path).status_code == 200


def test_models_marked_api_false_stay_out_of_add_all_models(make_api):
    source = """
        from sqlalchemy import Column, Integer, Unicode

        from flasker import current_project
        from flasker.ext.api import APIManager
        from flasker.util import Model

        api = current_project.register_manager(APIManager(add_all_models=True))


        class Visible(Model):
            id = Column(Integer, primary_key=True)


        class Secret(Model):
            __api__ = False
            id = Column(Integer, primary_key=True)
            token_hash = Column(Unicode(64))
    """
    harness = make_api(source, {"visibles": [{"id": 1}], "secrets": [{"id": 1, "token_hash": "h"}]})
    index = harness.ok("/")
    assert "visibles" in str(index)
    assert "secrets" not in str(index)
    assert harness.get("/secrets/").status_code == 404
    assert "secrets" not in str(harness.ok("/openapi.json")["paths"])
