"""`flasker check`: is the cfg valid, do the modules import, do the database and broker answer?

Each check has a deadline (`flasker.deadline.within`, importable from here as before): a
firewalled host must give a FAIL within the timeout, not hang the command (or the console
page that shows the same results).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .deadline import CheckTimeout, within
from .exceptions import FlaskerError

if TYPE_CHECKING:
    from .config import Config
    from .loader import ProjectLoader
    from .project import Project

__all__ = [
    "CheckResult",
    "CheckTimeout",
    "check_broker",
    "check_database",
    "run_checks",
    "within",
]


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


def run_checks(info: ProjectLoader, timeout: float = 3.0) -> Iterator[CheckResult]:
    """Yield one result per part, stopping early when a later part cannot be reached."""
    try:
        config = info.load_config()
    except FlaskerError as error:
        yield CheckResult("config", False, str(error))
        return
    yield CheckResult("config", True, str(config.path))

    try:
        project = info.load_project_without_db()
    except FlaskerError as error:
        yield CheckResult("modules", False, str(error))
        return
    modules = ", ".join(config.modules) or "(none listed)"
    yield CheckResult("modules", True, modules)

    yield check_database(project, timeout)
    yield check_broker(project, timeout)


def check_database(project: Project, timeout: float) -> CheckResult:
    from .introspect import mask_url

    url = mask_url(project.config.db_url)
    try:
        version = within(timeout, lambda: _database_version(project))
    except Exception as error:
        return CheckResult("database", False, f"{url}: {_describe(error)}")
    return CheckResult("database", True, f"{url} ({version})")


def _database_version(project: Project) -> str:
    engine = project.db.engine
    with engine.connect() as connection:
        info = connection.dialect.server_version_info or ()
    version = ".".join(str(part) for part in info)
    return f"{engine.dialect.name} {version}".strip()


def check_broker(project: Project, timeout: float) -> CheckResult:
    config = project.config
    if config.is_embedded_broker:
        project.celery  # noqa: B018 - building the Celery app creates the broker's folders
        return _check_embedded_broker(config)
    from .introspect import mask_url

    url = mask_url(str(config.celery["broker_url"]))
    try:
        within(timeout, lambda: _connect_broker(project, timeout))
    except Exception as error:
        return CheckResult("broker", False, f"{url}: {_describe(error)}")
    return CheckResult("broker", True, url)


def _connect_broker(project: Project, timeout: float) -> None:
    with project.celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)


def _check_embedded_broker(config: Config) -> CheckResult:
    from ._fsbroker import BrokerFolders

    folders = BrokerFolders(config.state_folder)
    for folder in (folders.queue, folders.control):
        if not folder.is_dir():
            return CheckResult("broker", False, f"embedded broker folder {folder} is missing")
        if not os.access(folder, os.W_OK):
            return CheckResult("broker", False, f"embedded broker folder {folder} is read-only")
    return CheckResult("broker", True, f"embedded on-disk broker in {folders.root}")


def _describe(error: BaseException) -> str:
    """One line for a failed check: the error's type, then what it said (`db.error_line`: the
    driver's error when SQLAlchemy wraps one, its first line)."""
    if isinstance(error, FlaskerError):  # already says what and where
        return str(error)
    from .db import error_line

    original = getattr(error, "orig", None) or error
    if not str(original).strip():
        return type(error).__name__
    return f"{type(original).__name__}: {error_line(error, limit=sys.maxsize)}"
