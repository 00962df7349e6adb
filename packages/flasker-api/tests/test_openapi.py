"""The OpenAPI document (`/api/openapi.json`) and the docs page (`/api/docs`).

Checked on the standard project of conftest.py: the document is valid OpenAPI 3.1, its schemas
say what the models hold (types, nullability, enums, keys, read-only properties), every endpoint
and query parameter of the contract is in it, and the docs page loads Swagger UI from the
package's own (vendored) files.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from flasker_api.docs import ASSETS
from flasker_api.openapi import build_openapi


@pytest.fixture(scope="module")
def document(standard_api: Any) -> dict[str, Any]:
    response = standard_api.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        kind, name = item["$ref"].split("/")[-2:]
        item = document["components"][kind][name]
    return item


def parameters(document: dict[str, Any], path: str, method: str = "get") -> dict[str, Any]:
    operation = document["paths"][path][method]
    return {p["name"]: p for p in (resolve(document, p) for p in operation["parameters"])}


# -- validity -------------------------------------------------------------------------------------
def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)
    assert document["info"]["title"] == "ApiTest API"


def test_built_once_per_manager(standard_api: Any) -> None:
    manager = standard_api.module.api
    assert build_openapi(manager) is build_openapi(manager)


def test_every_operation_id_is_unique(document: dict[str, Any]) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


# -- model schemas --------------------------------------------------------------------------------
def test_columns_types_and_nullability(document: dict[str, Any]) -> None:
    cat = schema(document, "Cat")["properties"]
    assert cat["name"]["type"] == "string"
    assert cat["name"]["maxLength"] == 64
    assert cat["color"]["type"] == ["string", "null"]
    assert cat["age"]["type"] == ["integer", "null"]
    assert cat["age"]["maximum"] == 2**31 - 1
    house = schema(document, "House")["properties"]
    assert house["address"]["type"] == "string"  # nullable=False
    assert house["id"]["type"] == "integer"


def test_special_types(document: dict[str, Any]) -> None:
    toy = schema(document, "Toy")["properties"]
    assert toy["kind"]["enum"] == ["ball", "mouse", "feather"]
    assert toy["kind"]["type"] == "string"
    assert toy["squeaky"]["type"] == "boolean"
    assert toy["bought"] == {"type": ["string", "null"], "format": "date"}
    assert toy["price"]["format"] == "decimal"
    assert toy["specs"] == {}  # JSON: any value
    # naive DateTime: ISO 8601 without offset, not RFC 3339's date-time
    assert "format" not in toy["last_played"]
    assert re.fullmatch(toy["last_played"]["pattern"], "2024-03-01T09:30:00")


def test_properties_are_read_only(document: dict[str, Any]) -> None:
    house = schema(document, "House")
    assert house["properties"]["cat_count"]["readOnly"] is True
    assert house["properties"]["cat_count"]["type"] == "integer"
    assert house["properties"]["label"]["readOnly"] is True
    assert "cat_count" not in schema(document, "HouseCreate")["properties"]


def test_keys_and_relations(document: dict[str, Any]) -> None:
    assert schema(document, "Cat")["required"] == ["name"]
    assert schema(document, "Membership")["required"] == ["club_id", "person_id"]
    key = schema(document, "MembershipKey")
    assert key["type"] == "array"
    assert [part["type"] for part in key["prefixItems"]] == ["integer", "integer"]
    cats = schema(document, "House")["properties"]["cats"]
    assert cats["type"] == "array"
    refs = [item["$ref"] for item in cats["items"]["anyOf"]]
    assert refs == ["#/components/schemas/Cat", "#/components/schemas/CatKey"]
    house = schema(document, "Cat")["properties"]["house"]
    assert {"type": "null"} in house["anyOf"]


def test_request_bodies(document: dict[str, Any]) -> None:
    create = schema(document, "HouseCreate")
    assert create["required"] == ["address"]  # id autoincrements
    assert create["additionalProperties"] is False
    assert schema(document, "CatCreate")["required"] == ["name"]
    assert "required" not in schema(document, "CatUpdate")
    replace = schema(document, "MembershipReplace")
    assert "club_id" not in replace.get("required", [])  # the key comes from the URL
    toy = schema(document, "ToyCreate")
    assert set(toy["required"]) == {"sku", "kind"}  # squeaky has a default
    assert "null" in toy["properties"]["squeaky"]["type"]  # null means "the default"


# -- paths and parameters -------------------------------------------------------------------------
def test_every_endpoint(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert set(paths["/api/houses/"]) == {"get", "post"}
    assert set(paths["/api/houses/{id}"]) == {"get", "put", "patch", "delete"}
    assert set(paths["/api/houses/{id}/cats/"]) == {"get", "put"}
    assert set(paths["/api/houses/{id}/cats/{position}"]) == {"get"}
    assert set(paths["/api/cats/{name}/house"]) == {"get", "put"}
    assert "/api/memberships/{club_id},{person_id}" in paths
    assert "/api/" in paths


def test_unique_column_lookups(document: dict[str, Any]) -> None:
    key = parameters(document, "/api/persons/{id}")["id"]
    assert key["in"] == "path"
    assert "email" in key["description"]
    kinds = [alternative["type"] for alternative in key["schema"]["anyOf"]]
    assert kinds == ["integer", "string"]


def test_list_parameters(document: dict[str, Any]) -> None:
    listed = parameters(document, "/api/cats/")
    for name in ("sort", "limit", "offset", "after", "fields", "include", "depth", "count", "or"):
        assert name in listed, name
    for column in ("name", "color", "age", "house_id"):  # one filter per column
        assert listed[column]["in"] == "query"
    assert "ilike" in listed["name"]["description"]
    assert "ilike" not in listed["age"]["description"]
    assert "fields[houses]" in listed
    assert "If-None-Match" in listed
    assert listed["limit"]["schema"]["maximum"] == 1000
    assert listed["count"]["schema"]["enum"] == ["exact", "none"]
    assert "-age" in listed["sort"]["schema"]["items"]["enum"]
    assert listed["sort"]["explode"] is False
    assert "house.cats" in listed["include"]["schema"]["items"]["enum"]
    related = parameters(document, "/api/houses/{id}/cats/")
    assert {"id", "age", "sort", "limit"} <= set(related)


def test_responses_and_headers(document: dict[str, Any]) -> None:
    listing = document["paths"]["/api/houses/"]["get"]["responses"]
    ok = listing["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HouseList"}
    assert {"ETag", "Link"} <= set(ok["headers"])
    assert {"304", "400"} <= set(listing)
    created = document["paths"]["/api/houses/"]["post"]["responses"]
    assert {"201", "400", "409", "415", "422"} <= set(created)
    assert "Location" in created["201"]["headers"]
    update = document["paths"]["/api/houses/{id}"]["patch"]
    assert {"404", "412", "422"} <= set(update["responses"])
    assert "If-Match" in parameters(document, "/api/houses/{id}", "patch")
    problem = resolve(document, update["responses"]["422"])
    assert "application/problem+json" in problem["content"]
    meta = schema(document, "ListMeta")
    assert set(meta["required"]) == {"total", "returned", "limit", "offset", "next"}


# -- the docs page --------------------------------------------------------------------------------
def test_docs_page_loads_vendored_swagger_ui(standard_api: Any) -> None:
    response = standard_api.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'data-openapi-url="/api/openapi.json"' in html
    assert "<script>" not in html  # no inline script
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    for name in ASSETS.values():
        url = next(s for s in sources if s.endswith(name) or s.endswith(f"={name}"))
        asset = standard_api.client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.data) > 100, url
        asset.close()
    bundle = next(s for s in sources if "swagger-ui-bundle.js" in s)
    with standard_api.client.get(bundle) as asset:
        assert b"SwaggerUIBundle" in asset.data
