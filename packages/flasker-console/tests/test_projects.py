"""The Projects page (mounted): the projects under the root, their health, the New project form."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.scaffold import TEMPLATES
from flasker_console.projects import FolderError, find_projects, new_folder

ConsoleSite = Any
HTMX = {"HX-Request": "true"}

GOOD_CFG = "[PROJECT]\nNAME = {name}\n"
BROKEN_CFG = "[PROJECT]\nNAME = Broken\n\n[APP]\nDEBUG = maybe\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of projects: two good ones, a broken one, an ambiguous one, and noise."""
    root = tmp_path_factory.mktemp("projects_root")
    for name in ("alpha", "beta"):
        (root / name).mkdir()
        (root / name / "default.cfg").write_text(GOOD_CFG.format(name=name.title()))
    (root / "broken").mkdir()
    (root / "broken" / "default.cfg").write_text(BROKEN_CFG)
    (root / "several").mkdir()
    for name in ("a.cfg", "b.cfg"):
        (root / "several" / name).write_text(GOOD_CFG.format(name="Several"))
    (root / "notes").mkdir()  # no cfg: not a project
    (root / ".hidden").mkdir()
    (root / ".hidden" / "default.cfg").write_text(GOOD_CFG.format(name="Hidden"))
    return root


@pytest.fixture(scope="module")
def projects_site(make_console: Callable[..., ConsoleSite], root: Path) -> ConsoleSite:
    return make_console(arguments=f"projects_root={str(root)!r}, check_timeout=1.0")


@pytest.fixture
def site(projects_site: ConsoleSite, root: Path) -> Iterator[ConsoleSite]:
    before = {p.name for p in root.iterdir()}
    projects_site.reset()
    yield projects_site
    import shutil

    for path in root.iterdir():
        if path.name not in before:
            shutil.rmtree(path)


def names(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


# -- finding projects ------------------------------------------------------------------------
def test_find_projects_follows_cores_discovery_rules(root: Path) -> None:
    entries = {entry.slug: entry for entry in find_projects(root)}
    assert sorted(entries) == ["alpha", "beta", "broken", "several"]
    assert entries["alpha"].cfg == root / "alpha" / "default.cfg"
    assert entries["several"].cfg is None
    assert "several cfg files (a.cfg, b.cfg)" in (entries["several"].problem or "")


def test_the_root_itself_is_a_project_when_it_holds_a_cfg(tmp_path: Path) -> None:
    (tmp_path / "only.cfg").write_text(GOOD_CFG.format(name="Top"))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "default.cfg").write_text(GOOD_CFG.format(name="Sub"))
    assert [(e.slug, e.cfg) for e in find_projects(tmp_path)] == [
        (".root", tmp_path / "only.cfg"),
        ("sub", tmp_path / "sub" / "default.cfg"),
    ]


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("", "required"),
        ("/etc/x", "absolute"),
        ("~/x", "absolute"),
        ("../x", "'..'"),
        ("a/../../x", "'..'"),
        (".", "hidden"),
        (".secret", "hidden"),
        ("a/b", "nested"),
        ("x" * 300, "longer than 100 bytes"),
        ("alpha", "not empty"),
    ],
)
def test_new_folder_refuses_anything_but_a_new_folder_inside_the_root(
    root: Path, given: str, problem: str
) -> None:
    with pytest.raises(FolderError, match=problem):
        new_folder(root, given)


def test_new_folder_refuses_a_symlink_out_of_the_root(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = root / "escape"
    link.symlink_to(outside, target_is_directory=True)
    try:
        with pytest.raises(FolderError, match="not a new folder inside"):
            new_folder(root, "escape")
    finally:
        link.unlink()


def test_a_symlink_out_of_the_root_is_not_listed(root: Path, tmp_path: Path) -> None:
    # the console edits only what is inside its root: /p/escape/ must not open a cfg elsewhere
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "default.cfg").write_text(GOOD_CFG.format(name="Elsewhere"))
    link = root / "escape"
    link.symlink_to(outside, target_is_directory=True)
    try:
        assert "escape" not in {entry.slug for entry in find_projects(root)}
    finally:
        link.unlink()


# -- the page ---------------------------------------------------------------------------------
def test_page_lists_projects_with_a_health_request_per_row(site: ConsoleSite, root: Path) -> None:
    html = site.page("/projects")
    assert str(root) in html
    for slug in ("alpha", "beta", "broken", "several"):
        assert f'data-testid="project-{slug}"' in html
        assert f"/console/projects/health?project={slug}" in html
    assert "project-.hidden" not in html
    assert 'data-testid="project-notes"' not in html
    assert ">Projects</a>" in site.page("/")  # the nav link


def test_health_of_a_good_project(site: ConsoleSite) -> None:
    html = site.get("/projects/health?project=alpha", headers=HTMX).get_data(as_text=True)
    assert 'data-testid="config-valid"' in html
    assert 'data-testid="check-database" data-ok="true"' in html
    assert 'data-testid="check-broker" data-ok="true"' in html
    assert "none online" in html
    assert "<html" not in html


def test_health_of_a_broken_cfg_shows_the_config_error(site: ConsoleSite) -> None:
    html = site.get("/projects/health?project=broken", headers=HTMX).get_data(as_text=True)
    assert 'data-testid="config-invalid"' in html
    assert "DEBUG" in html
    assert "default.cfg" in html
    assert "check-database" not in html


def test_health_without_javascript_checks_every_row_on_the_page(site: ConsoleSite) -> None:
    response = site.get("/projects/health?project=alpha")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console/projects?check=1")
    html = site.page("/projects?check=1")
    assert html.count('data-testid="config-valid"') == 2
    assert html.count('data-testid="config-invalid"') == 2  # broken, several
    assert "several cfg files" in html
    assert 'data-testid="health-pending"' not in html


def test_the_current_project_is_marked(make_console: Callable[..., ConsoleSite]) -> None:
    site = make_console()  # default root: the folder above the project's folder
    html = site.page("/projects")
    slug = site.cfg.parent.name
    row = html.split(f'data-testid="project-{slug}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-testid="current"' in row
    assert html.count('data-testid="current"') == 1


@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a firewalled or stuck service)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield server.getsockname()[1]
    server.close()


def test_hanging_services_are_reported_within_the_deadline(
    site: ConsoleSite, root: Path, hanging_port: int
) -> None:
    folder = root / "stuck"
    folder.mkdir()
    (folder / "default.cfg").write_text(
        "[PROJECT]\nNAME = Stuck\n"
        f"DB_URL = postgresql+psycopg://postgres@127.0.0.1:{hanging_port}/test\n\n"
        f"[CELERY]\nbroker_url = redis://127.0.0.1:{hanging_port}/0\n"
    )
    started = time.monotonic()
    html = site.get("/projects/health?project=stuck", headers=HTMX).get_data(as_text=True)
    assert time.monotonic() - started < 4.0  # CHECK_TIMEOUT is 1 s here
    assert 'data-testid="check-database" data-ok="false"' in html
    assert 'data-testid="check-broker" data-ok="false"' in html
    assert f"127.0.0.1:{hanging_port}" in html


def test_health_of_a_project_that_went_away(site: ConsoleSite) -> None:
    html = site.get("/projects/health?project=gone", headers=HTMX).get_data(as_text=True)
    assert "no project &#39;gone&#39;" in html


# -- New project ------------------------------------------------------------------------------
def new_project_form(site: ConsoleSite, **fields: str) -> dict[str, str]:
    form = site.form(site.page("/projects"), "new-project")
    form["template"] = "basic"  # the <select>'s first option, as a browser sends it
    form.update(fields)
    return form


def test_scaffold_a_project_shows_its_files_lists_it_and_logs_it(
    site: ConsoleSite, root: Path
) -> None:
    form = new_project_form(site, folder="blog", name="My Blog", template="basic")
    response = site.post("/projects", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert 'data-testid="project-created"' in html
    assert "<code>blog/default.cfg</code>" in html
    assert "<code>blog/my_blog/__init__.py</code>" in html or "my_blog/" in html
    assert 'data-testid="project-blog"' in html
    assert "My Blog" in (root / "blog" / "default.cfg").read_text()
    assert "project.scaffolded" in site.page("/activity")
    assert "<code>blog</code>" in site.page("/activity")


def test_scaffold_over_htmx_answers_the_page_body(site: ConsoleSite, root: Path) -> None:
    form = new_project_form(site, folder="svc", template="minimal", db_url="sqlite:///svc.sqlite")
    response = site.post("/projects", data=form, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html
    assert "<code>svc/default.cfg</code>" in html
    assert 'data-testid="project-svc"' in html
    assert "DB_URL = sqlite:///svc.sqlite" in (root / "svc" / "default.cfg").read_text()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"folder": "../outside"}, "may not contain &#39;..&#39;"),
        ({"folder": "/tmp/abs"}, "is absolute"),
        ({"folder": "alpha"}, "already exists and is not empty"),
        ({"folder": ""}, "folder: required"),
        (
            {"folder": "x1", "template": "fancy"},
            f"&#39;fancy&#39; is not one of {', '.join(TEMPLATES)}",  # core's list, in its order
        ),
        ({"folder": "x2", "name": "9lives"}, "not a usable project name"),
        ({"folder": "x3", "db_url": "not a url"}, "is not a SQLAlchemy URL"),
        ({"folder": "x4", "broker_url": "nope://host"}, "unknown transport"),
    ],
)
def test_bad_input_is_shown_inline_and_nothing_is_written(
    site: ConsoleSite, root: Path, fields: dict[str, str], problem: str
) -> None:
    before = names(root)
    for headers in ({}, HTMX):
        response = site.post("/projects", data=new_project_form(site, **fields), headers=headers)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert 'data-testid="new-project-problems"' in html
        assert problem in html
        assert names(root) == before
        assert not (root.parent / "outside").exists()


def test_without_a_csrf_token_nothing_is_written(site: ConsoleSite, root: Path) -> None:
    before = names(root)
    form = new_project_form(site, folder="forged")
    del form["csrf_token"]
    response = site.post("/projects", data=form)
    assert response.status_code == 400
    assert names(root) == before


# -- access ---------------------------------------------------------------------------------
def test_viewers_see_the_form_disabled_and_cannot_scaffold(
    make_auth_console: Callable[..., ConsoleSite], root: Path
) -> None:
    site = make_auth_console(console_arguments=f"projects_root={str(root)!r}")
    assert site.client.get("/test-sign-in/viewer@example.test").status_code == 200
    html = site.page("/projects")
    assert 'data-testid="new-project-disabled"' in html
    assert "<fieldset disabled>" in html
    before = names(root)
    form = site.form(html, "new-project")
    form.update(folder="by-viewer", template="minimal")
    response = site.post("/projects", data=form)
    assert response.status_code == 403
    assert names(root) == before
