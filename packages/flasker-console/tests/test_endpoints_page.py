"""The endpoints page: URL rules, the API's operations, auth requirements and the try-it panel."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

API_MODULE = """\
from sqlalchemy import Column, Integer, Unicode

from flasker import current_project
from flasker.model import Model
from flasker_api import APIManager
from flasker_console import ConsoleManager


class EndpointGadget(Model):
    id = Column(Integer, primary_key=True)
    name = Column(Unicode(64), nullable=False)


api = current_project.register_manager(APIManager(add_all_models=True))
current_project.register_manager(ConsoleManager())
app = current_project.app


@app.get("/boom")
def boom():
    raise RuntimeError("boom from a tried view")
"""


PRIVATE_ROUTE = """
@app.get("/private")
def private():
    return {{"secret": True}}
"""


@pytest.fixture(scope="module")
def api_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    site = make_console(source=API_MODULE)
    model = next(
        m for m in site.project.db.Model.registry.mappers if m.class_.__name__ == "EndpointGadget"
    ).class_
    with site.project.db.Session() as session:
        session.add_all([model(name="spanner"), model(name="sprocket")])
        session.commit()
    return site


@pytest.fixture(scope="module")
def auth_site(make_auth_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    return make_auth_console(extra=PRIVATE_ROUTE)


def _list_path(site: ConsoleSite) -> str:
    from flasker_console.endpoints_page import api_operations

    with site.app.test_request_context():
        operations, problem = api_operations(site.project)
    assert problem is None
    return next(
        op["path"]
        for op in operations
        if op["method"] == "GET"
        and op["path"].endswith("s/")
        and "{" not in op["path"]
        and op["tag"] != "index"
    )


def _try(site: ConsoleSite, **fields: str) -> Any:
    token = site.form(site.page("/endpoints"), "try-it")["csrf_token"]
    return site.post("/endpoints/try", data={"csrf_token": token, **fields})


def test_every_url_rule_is_listed(api_site: ConsoleSite) -> None:
    page = api_site.page("/endpoints")
    assert 'data-testid="routes"' in page
    assert "<code>/boom</code>" in page
    assert 'data-testid="route-flasker_console.endpoints"' in page
    assert "open" in page  # no auth registered


def test_api_operations_are_listed(api_site: ConsoleSite) -> None:
    page = api_site.page("/endpoints")
    assert 'data-testid="api-operations"' in page
    path = _list_path(api_site)
    assert f'data-testid="op-GET-{path}"' in page
    assert f'data-testid="op-POST-{path}"' in page
    assert "limit" in page
    assert "offset" in page
    assert "Every collection and endpoint of the API" in page


def test_try_a_list_shows_status_body_and_queries(api_site: ConsoleSite) -> None:
    path = _list_path(api_site)
    response = _try(api_site, method="GET", path=path, body="")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="try-status">200<' in html
    assert "spanner" in html
    assert "sprocket" in html
    queries = int(html.split('data-queries="')[1].split('"')[0])
    assert queries >= 1
    assert " ms<" in html


def test_try_with_htmx_answers_the_partial(api_site: ConsoleSite) -> None:
    token = api_site.form(api_site.page("/endpoints"), "try-it")["csrf_token"]
    response = api_site.post(
        "/endpoints/try",
        data={"method": "GET", "path": _list_path(api_site)},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<section")
    assert "spanner" in html


def test_exceptions_in_the_tried_request_show_as_their_status(api_site: ConsoleSite) -> None:
    response = _try(api_site, method="GET", path="/boom")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-testid="try-status">500<' in html
    missing = _try(api_site, method="GET", path="/no-such-page")
    assert 'data-testid="try-status">404<' in missing.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["http://evil.example/", "//evil.example", "/\\evil.example", "api", ""]
)
def test_try_refuses_other_sites(api_site: ConsoleSite, path: str) -> None:
    response = _try(api_site, method="GET", path=path)
    assert response.status_code == 400
    assert "refused" in response.get_data(as_text=True)


def test_try_refuses_a_body_that_is_not_json(api_site: ConsoleSite) -> None:
    response = _try(api_site, method="POST", path=_list_path(api_site), body="{nope")
    assert response.status_code == 400
    assert "not JSON" in response.get_data(as_text=True)


def test_try_needs_a_csrf_token(api_site: ConsoleSite) -> None:
    response = api_site.post("/endpoints/try", data={"method": "GET", "path": "/boom"})
    assert response.status_code == 400


def test_auth_column_and_viewers_cannot_try(auth_site: ConsoleSite) -> None:
    site = auth_site
    site.reset()
    assert site.client.get("/test-sign-in/admin@example.test").status_code == 200
    page = site.page("/endpoints")
    public_row = page.split('data-testid="route-test_sign_in"')[1].split("</tr>")[0]
    assert "public" in public_row
    private_row = page.split('data-testid="route-private"')[1].split("</tr>")[0]
    assert "sign-in" in private_row
    static_row = page.split('data-testid="route-static"')[1].split("</tr>")[0]
    assert "public" in static_row
    # the admin's try runs with the admin's session
    token = site.form(page, "try-it")["csrf_token"]
    tried = site.post("/endpoints/try", data={"csrf_token": token, "path": "/private"})
    assert 'data-testid="try-status">200<' in tried.get_data(as_text=True)

    assert site.client.get("/test-sign-in/viewer@example.test").status_code == 200
    page = site.page("/endpoints")
    assert 'data-testid="try-it"' not in page
    assert 'data-testid="try-it-readonly"' in page
    token = site.form(site.page("/config"))["csrf_token"]
    response = site.post("/endpoints/try", data={"csrf_token": token, "path": "/private"})
    assert response.status_code == 403


MANY_MODELS = "\n".join(
    f"""
class PagedWidget{number:02d}(Model):
    id = Column(Integer, primary_key=True)
"""
    for number in range(12)
)


@pytest.fixture(scope="module")
def many_site(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    # every site's models share one metadata: this one's names are its own
    source = API_MODULE.replace("EndpointGadget", "PagedGadget")
    return make_console(source=source.replace("\n\napi = ", MANY_MODELS + "\n\napi = "))


def test_a_large_api_is_listed_a_page_at_a_time_and_filtered(many_site: ConsoleSite) -> None:
    from flasker_console.endpoints_page import PAGE_SIZE

    html = many_site.page("/endpoints")
    assert html.count('data-testid="op-') == PAGE_SIZE
    assert "page 1 of" in html
    second = many_site.page("/endpoints?ops_page=2")
    first_rows = {line for line in html.splitlines() if 'data-testid="op-' in line}
    second_rows = {line for line in second.splitlines() if 'data-testid="op-' in line}
    assert second_rows
    assert not first_rows & second_rows
    filtered = many_site.page("/endpoints?q=widget07")
    rows = [line for line in filtered.splitlines() if 'data-testid="op-' in line]
    assert rows
    assert all("widget07" in line for line in rows)
    assert "Nothing matches" in many_site.page("/endpoints?q=no-such-thing")
    # a page number past the end shows the last page; garbage shows the first
    assert 'data-testid="op-' in many_site.page("/endpoints?ops_page=999")
    assert 'data-testid="op-' in many_site.page("/endpoints?ops_page=x")


def test_the_openapi_document_is_built_once_per_app(
    many_site: ConsoleSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flasker_api.openapi

    many_site.page("/endpoints")  # built (at the latest) here
    calls = []
    real = flasker_api.openapi.build_openapi
    monkeypatch.setattr(flasker_api.openapi, "build_openapi", lambda m: calls.append(m) or real(m))
    for _ in range(3):
        many_site.page("/endpoints?q=widget")
    assert calls == []
