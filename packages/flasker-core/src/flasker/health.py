"""`flasker check`: is the cfg valid, do the modules import, do the database and broker answer?

Each check has a deadline: a firewalled host must give a FAIL within the timeout, not hang the
command (or, later, the console page that shows the same results).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .exceptions import FlaskerError

if TYPE_CHECKING:
    from .config import Config
    from .loader import ProjectLoader
    from .project import Project

T = TypeVar("T")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


class CheckTimeout(Exception):
    pass


def within(timeout: float, function: Callable[[], T]) -> T:
    """Run `function` in a daemon thread and give up after `timeout` seconds.

    A daemon thread, not an executor: a connect stuck in the kernel must not keep the process
    alive at exit.
    """
    results: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            results.put((True, function()))
        except BaseException as error:
            results.put((False, error))

    threading.Thread(target=run, name="flasker-check", daemon=True).start()
    try:
        ok, value = results.get(timeout=timeout)
    except queue.Empty:
        raise CheckTimeout(f"no answer within {timeout:g} s") from None
    if not ok:
        raise value
    return cast(T, value)


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
    if isinstance(error, FlaskerError):  # already says what and where
        return str(error)
    original = getattr(error, "orig", None)  # SQLAlchemy wraps the driver's error
    text = str(original or error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(original or error).__name__}: {first}" if first else type(error).__name__
