"""The Projects page's views (projects_views.py): one row's health over htmx, every row's
without JavaScript, and the New project form, which writes nothing until every input is good
and then lists the files it wrote and records them in the activity log."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.scaffold import TEMPLATES

ConsoleSite = Any
HTMX = {"HX-Request": "true"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("projects_views_root")
    (root / "alpha").mkdir()
    (root / "alpha" / "default.cfg").write_text("[PROJECT]\nNAME = Alpha\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def projects_site(make_console: Callable[..., ConsoleSite], root: Path) -> ConsoleSite:
    return make_console(arguments=f"projects_root={str(root)!r}, events=False")


@pytest.fixture
def site(projects_site: ConsoleSite, root: Path) -> Iterator[ConsoleSite]:
    before = set(root.iterdir())
    projects_site.reset()
    yield projects_site
    for path in set(root.iterdir()) - before:
        shutil.rmtree(path)


def problems(answer: Any) -> list[str]:
    body = answer.get_data(as_text=True)
    block = body.split('data-testid="new-project-problems"', 1)[1].split("</ul>", 1)[0]
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", block)]


def form(site: ConsoleSite, **fields: str) -> dict[str, str]:
    values = site.form(site.page("/projects"), "new-project")
    values["template"] = TEMPLATES[0]
    values.update(fields)
    return values


def test_health_without_javascript_is_the_page_with_every_row_checked(site: ConsoleSite) -> None:
    answer = site.get("/projects/health?project=alpha")
    assert (answer.status_code, answer.headers["Location"]) == (302, "/console/projects?check=1")


def test_the_health_of_one_row_over_htmx(site: ConsoleSite) -> None:
    body = site.get("/projects/health?project=alpha", headers=HTMX).get_data(as_text=True)
    assert '<span class="badge text-bg-success" data-testid="config-valid">cfg valid</span>' in body


def test_the_health_of_a_project_that_went_away_says_so(site: ConsoleSite, root: Path) -> None:
    body = site.get("/projects/health?project=gone", headers=HTMX).get_data(as_text=True)
    assert '<div class="small" data-testid="health" data-ok="false">' in body
    found = re.findall(r'<span class="text-danger">(.*?)</span>', body)
    assert [html.unescape(text) for text in found] == [f"no project 'gone' under {root} any more"]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"folder": ""}, ["folder: required (a folder name under the projects root)"]),
        ({"folder": "../up"}, ["folder: '../up' may not contain '..'"]),
        ({"folder": "/abs"}, ["folder: '/abs' is absolute; give a folder relative to the root"]),
        (
            {"folder": ".quiet"},
            ["folder: '.quiet' is hidden; the Projects page would not list it"],
        ),
        (
            {"folder": "", "template": "fancy"},
            [
                "folder: required (a folder name under the projects root)",
                f"template: 'fancy' is not one of {', '.join(TEMPLATES)}",
            ],
        ),
    ],
)
def test_every_bad_input_is_listed_and_nothing_is_written(
    site: ConsoleSite, root: Path, fields: dict[str, str], expected: list[str]
) -> None:
    before = set(root.iterdir())
    answer = site.post("/projects", data=form(site, **fields))
    assert answer.status_code == 422
    assert problems(answer) == expected
    assert set(root.iterdir()) == before


def test_a_new_project_lists_its_files_and_is_recorded(site: ConsoleSite, root: Path) -> None:
    from flasker_console import activity

    answer = site.post("/projects", data=form(site, folder="shop", name="Shop"), headers=HTMX)
    body = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<html" not in body  # the page's body, for htmx
    assert "Created the project <code>shop</code> with these files:" in body
    written = sorted(
        path.relative_to(root / "shop").as_posix()
        for path in (root / "shop").rglob("*")
        if path.is_file()
    )
    listed = re.findall(r"<li><code>shop/(.*?)</code></li>", body)
    assert sorted(listed) == written
    assert "default.cfg" in listed
    entry = activity.page(site.project).rows[0]
    assert (entry.action, entry.target) == ("project.scaffolded", "shop")
    assert sorted(json.loads(entry.detail)) == written
