"""The Projects page: the projects under the root folder, their health, and the New project form.

Registered on the console's blueprint (`<prefix>/projects`) when mounted, and at `/` of the
standalone console over a folder (`flasker console --root DIR`, see standalone.py). The page
answers at once; each row's health arrives through its own htmx request (`hx-trigger="load"`),
so one slow project never holds up the others. Without JavaScript, the "Check health" link
(`?check=1`) renders every row's health server-side, side by side, within about one deadline.

Scaffolding (admins, CSRF) goes through core's `flasker.scaffold.scaffold()`, which checks every
input before writing anything; its problems are shown inline with a 422.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app, redirect, render_template, request, url_for

from flasker.exceptions import FlaskerError
from flasker.scaffold import TEMPLATES, scaffold

from . import projects as found
from ._site import console_site
from .access import current_operator
from .exceptions import ConsoleError

logger = logging.getLogger(__name__)

#: Where the standalone console keeps its `ProjectsSite` in `app.extensions`.
STANDALONE_EXTENSION = "flasker_console_projects"


@dataclass
class ProjectsSite:
    """What the page needs to know about where it runs (mounted in a project, or standalone)."""

    root: Path
    check_timeout: float
    current_cfg: Path | None = None
    project: Any = None  # the mounted project: scaffolds are recorded in its activity log
    layout: str = "flasker_console/layout.html"
    #: The URL of a project's console by folder name (the standalone console serves them all).
    project_url: Callable[[str], str] | None = None

    def url_of(self, slug: str) -> str | None:
        """The console of the project `slug`, when this console serves it."""
        return self.project_url(slug) if self.project_url is not None else None


def _site() -> ProjectsSite:
    site = current_app.extensions.get(STANDALONE_EXTENSION)
    if site is not None:
        return site  # type: ignore[no-any-return]
    manager = console_site()
    project, root = manager.project, manager.projects_root
    if project is None or root is None:  # init_project sets both before any request
        raise ConsoleError("the console is not registered on a project")
    return ProjectsSite(
        root=root,
        check_timeout=manager.check_timeout,
        current_cfg=Path(project.config.path).resolve(),
        project=project,
        project_url=manager.project_url,
    )


def _htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _rows(site: ProjectsSite) -> list[dict[str, Any]]:
    rows = []
    for entry in found.find_projects(site.root):
        rows.append(
            {
                "entry": entry,
                "is_current": entry.cfg is not None
                and site.current_cfg is not None
                and entry.cfg.resolve() == site.current_cfg,
                "url": site.url_of(entry.slug) if entry.cfg is not None else None,
            }
        )
    return rows


def _page(
    site: ProjectsSite,
    status: int = 200,
    form: dict[str, str] | None = None,
    problems: list[str] | None = None,
    created: list[str] | None = None,
    created_folder: str | None = None,
) -> Any:
    rows = _rows(site)
    health = None
    if request.args.get("check"):
        health = found.checked_health([row["entry"] for row in rows], site.check_timeout)
    context = {
        "layout": site.layout,
        "root": site.root,
        "rows": rows,
        "health": health,
        "templates": TEMPLATES,
        "form": form or {"template": TEMPLATES[0]},
        "problems": problems or [],
        "created": created,
        "created_folder": created_folder,
    }
    template = "flasker_console/projects.html"
    if _htmx() and request.method == "POST":
        template = "flasker_console/partials/projects_body.html"
    return render_template(template, **context), status


def projects_page() -> Any:
    """The list of projects (health loaded per row) and the New project form."""
    return _page(_site())


def projects_health() -> Any:
    """One row's health (htmx); without htmx, the whole page with every row checked."""
    if not _htmx():
        return redirect(url_for(".projects", check=1))
    site = _site()
    slug = request.args.get("project", "")
    entry = found.find_project(site.root, slug)
    if entry is None:
        return render_template(
            "flasker_console/partials/project_health.html",
            health=None,
            missing=f"no project {slug!r} under {site.root} any more",
        )
    health = found.project_health(entry, site.check_timeout)
    return render_template(
        "flasker_console/partials/project_health.html", health=health, missing=None
    )


def projects_new() -> Any:
    """Scaffold a project from the form (admins; the blueprint checked the CSRF token)."""
    site = _site()
    form = {
        key: (request.form.get(key) or "").strip()
        for key in ("name", "folder", "template", "db_url", "broker_url")
    }
    problems: list[str] = []
    target: Path | None = None
    try:
        target = found.new_folder(site.root, form["folder"])
    except found.FolderError as error:
        problems.append(str(error))
    if form["template"] not in TEMPLATES:
        problems.append(f"template: {form['template']!r} is not one of {', '.join(TEMPLATES)}")
    written: list[Path] = []
    if not problems and target is not None:
        try:
            written = scaffold(
                target,
                template=form["template"],
                name=form["name"] or None,
                db_url=form["db_url"] or None,
                broker_url=form["broker_url"] or None,
            )
        except FlaskerError as error:
            problems.extend(_problem_lines(str(error)))
    if problems:
        return _page(site, 422, form=form, problems=problems)
    assert target is not None
    folder = target.relative_to(site.root.resolve()).as_posix()
    files = [path.relative_to(target).as_posix() for path in written]
    _record(site, folder, files)
    logger.info("project scaffolded from the console: %s (%d files)", target, len(files))
    return _page(site, created=files, created_folder=folder)


def _problem_lines(message: str) -> list[str]:
    """Core's "headline:\\n  - problem" listing as one line per problem."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    items = [line.removeprefix("- ") for line in lines if line.startswith("- ")]
    return items or lines


def _record(site: ProjectsSite, folder: str, files: list[str]) -> None:
    if site.project is None:
        return  # the standalone root has no project of its own to log in
    from . import activity

    try:
        activity.record(
            site.project,
            current_operator().email,
            "project.scaffolded",
            folder,
            json.dumps(files),
        )
    except Exception as error:  # the project stands; only its record is lost
        logger.warning("the console could not record the new project %s: %s", folder, error)
