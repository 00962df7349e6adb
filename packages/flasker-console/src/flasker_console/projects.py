"""The projects under a root folder, and each one's health, for the console's Projects page.

A project is the root folder itself when it holds a cfg file, and each immediate subfolder
holding `default.cfg` or exactly one `*.cfg` (core's discovery rules, `flasker.discovery`). A
subfolder with several cfg files and no `default.cfg` is listed with that problem, so the
operator sees why it has no console.

Health is checked without importing the project's code: the cfg is loaded with core's loader,
then a `Project(config)` that is never started answers core's database and broker checks and a
Celery `control.ping` for its workers. The three run side by side, each with its own deadline,
so one row answers within about `timeout` even when every service hangs::

    for entry in find_projects(Path("projects")):
        print(entry.slug, project_health(entry, timeout=2.0).summary)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from flasker.discovery import DEFAULT_NAME
from flasker.health import CheckResult, check_broker, check_database

from ._parallel import side_by_side

#: The slug of the root folder itself, when it holds a cfg file: a hidden name, so no listed
#: subfolder can have it, and not "." (browsers fold `/p/./` into `/p/`).
ROOT_SLUG = ".root"
#: Longest folder name the New project form accepts (most file systems allow 255 bytes).
MAX_FOLDER_NAME = 100
_SKIPPED = ("__pycache__", "node_modules")


@dataclass(frozen=True)
class ProjectEntry:
    """One project found under the root: its folder name (`slug`) and cfg file."""

    slug: str
    folder: Path
    cfg: Path | None
    problem: str | None = None

    @property
    def label(self) -> str:
        return self.folder.name if self.slug == ROOT_SLUG else self.slug


@dataclass
class ProjectHealth:
    """What the Projects page shows for one project; `config_problem` set means nothing else ran."""

    name: str | None
    config_problem: str | None = None
    checks: list[CheckResult] = field(default_factory=list)
    workers: int | None = None

    @property
    def is_ok(self) -> bool:
        return self.config_problem is None and all(check.ok for check in self.checks)


def _cfg_in(folder: Path) -> tuple[Path | None, str | None]:
    """The folder's cfg by core's rules (`default.cfg`, else the only `*.cfg`), or a problem."""
    default = folder / DEFAULT_NAME
    if default.is_file():
        return default, None
    candidates = sorted(p for p in folder.glob("*.cfg") if p.is_file())
    if len(candidates) == 1:
        return candidates[0], None
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        return None, f"several cfg files ({names}) and none is {DEFAULT_NAME}"
    return None, None


def find_projects(root: Path) -> list[ProjectEntry]:
    """The root (when it holds a cfg) first, then its subfolders with a cfg, by name."""
    root = root.resolve()
    found: list[ProjectEntry] = []
    cfg, problem = _cfg_in(root)
    if cfg is not None or problem is not None:
        found.append(ProjectEntry(ROOT_SLUG, root, cfg, problem))
    try:
        children = sorted(root.iterdir(), key=lambda p: p.name)
    except OSError:
        return found
    # a symlink to a folder listed under its own name is listed once (real folders win)
    seen = {root}
    for child in sorted(children, key=lambda p: p.is_symlink()):
        if child.name.startswith(".") or child.name in _SKIPPED or not child.is_dir():
            continue
        real = child.resolve()
        if real in seen or not real.is_relative_to(root):
            # a symlink out of the root is not listed: the console edits only what is inside
            continue
        seen.add(real)
        cfg, problem = _cfg_in(child)
        if cfg is not None or problem is not None:
            found.append(ProjectEntry(child.name, child, cfg, problem))
    return sorted(found, key=lambda entry: (entry.slug != ROOT_SLUG, entry.slug))


def find_project(root: Path, slug: str) -> ProjectEntry | None:
    """The project called `slug` under `root`, or None (slugs never leave the root)."""
    for entry in find_projects(root):
        if entry.slug == slug:
            return entry
    return None


# -- health ---------------------------------------------------------------------------------
def project_health(entry: ProjectEntry, timeout: float) -> ProjectHealth:
    """Config, database, broker and workers of one project; never raises, and answers within
    about `timeout` + 1 s (checks that have not answered by then are reported as such)."""
    from flasker.config import load_config
    from flasker.exceptions import FlaskerError

    if entry.cfg is None:
        return ProjectHealth(None, entry.problem or "no cfg file")
    try:
        config = load_config(entry.cfg)
    except FlaskerError as error:
        return ProjectHealth(None, str(error))
    except (OSError, UnicodeError) as error:
        return ProjectHealth(None, f"cannot read {entry.cfg}: {error}")
    from flasker.project import Project

    project = Project(config)  # never started: its MODULES are not imported here
    found = side_by_side(
        {
            "database": lambda: check_database(project, timeout),
            "broker": lambda: check_broker(project, timeout),
            "workers": lambda: _ping(project, timeout),
        },
        timeout,
        grace=1.0,
        # a check that still hangs is left to finish in its thread; the project is released after
        then=lambda: _close(project),
    )
    checks = [
        value if isinstance(value, CheckResult) else CheckResult(name, False, str(value))
        for name, value in found.items()
        if name != "workers"
    ]
    workers = found["workers"]
    return ProjectHealth(config.name, None, checks, workers if isinstance(workers, int) else None)


def _ping(project: object, timeout: float) -> int:
    """How many workers answer Celery's ping within `timeout` (0 when the broker is down)."""
    from flasker.health import within

    celery = project.celery  # type: ignore[attr-defined]
    # a broadcast waits its whole timeout, and on the embedded broker replies arrive on a 1 s
    # poll: half the deadline to listen leaves room to collect them (measured: 1 s → 2.0-2.3 s)
    listen = max(0.5, timeout / 2)
    replies = within(timeout + 1.0, lambda: celery.control.ping(timeout=listen))
    return len(replies or [])


def _close(project: object) -> None:
    from contextlib import suppress

    with suppress(Exception):
        if "celery" in project.__dict__:
            project.celery.close()  # type: ignore[attr-defined]
    with suppress(Exception):
        project.close()  # type: ignore[attr-defined]


def checked_health(entries: list[ProjectEntry], timeout: float) -> dict[str, ProjectHealth]:
    """Every project's health, side by side: the whole list answers within about one row's."""
    found = side_by_side(
        {entry.slug: partial(project_health, entry, timeout) for entry in entries},
        timeout,
        grace=1.5,
    )
    return {
        slug: health
        if isinstance(health, ProjectHealth)
        else ProjectHealth(None, None, [CheckResult("checks", False, str(health))])
        for slug, health in found.items()
    }


# -- the New project form -------------------------------------------------------------------
class FolderError(ValueError):
    """The folder asked for is not a new folder under the root (the message says why)."""


def new_folder(root: Path, given: str) -> Path:
    """The folder `given` (relative to `root`) as an absolute path, when a project may go there.

    Refused: empty, absolute paths, `..` parts, anything resolving outside the root (symlinks
    included), the root itself, and existing folders that are not empty.
    """
    text = given.strip()
    if not text:
        raise FolderError("folder: required (a folder name under the projects root)")
    if "\\" in text or "\x00" in text or any(ord(c) < 32 for c in text):
        raise FolderError(f"folder: {given!r} holds characters a folder name cannot")
    path = Path(text)
    if path.is_absolute() or text.startswith("~"):
        raise FolderError(f"folder: {given!r} is absolute; give a folder relative to the root")
    if ".." in path.parts:
        raise FolderError(f"folder: {given!r} may not contain '..'")
    if text.startswith("."):
        raise FolderError(f"folder: {given!r} is hidden; the Projects page would not list it")
    if len(path.parts) != 1:
        # the Projects page lists the root's direct subfolders: a nested project would vanish
        raise FolderError(
            f"folder: {given!r} is nested; give one folder name directly under the root"
        )
    if len(text.encode("utf-8")) > MAX_FOLDER_NAME:
        raise FolderError(f"folder: longer than {MAX_FOLDER_NAME} bytes")
    root = root.resolve()
    try:
        target = (root / path).resolve()
        if target == root or not target.is_relative_to(root):
            raise FolderError(f"folder: {given!r} is not a new folder inside {root}")
        if target.exists():
            if not target.is_dir():
                raise FolderError(f"folder: {given!r} exists and is a file")
            if any(target.iterdir()):
                raise FolderError(f"folder: {given!r} already exists and is not empty")
    except OSError as error:
        raise FolderError(f"folder: {given!r}: {error.strerror or error}") from None
    return target
