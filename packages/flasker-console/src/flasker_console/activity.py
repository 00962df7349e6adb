"""The activity log: every change made through the console, with who made it, when and what.

Each change that succeeded (a cfg save, in either editor; a task sent, retried or revoked; a
worker's pool grown or shrunk) is a row of `flasker_console_activity` in the project's database
(core's `Model`, `__api__ = False`, mapped and created on first use like the tasks table).
Task changes are recorded in the same transaction as the task's own row; a cfg save or a pool
resize, which change no row, are recorded right after they succeed.

Recording never breaks the change's answer: a database that refuses the entry is logged as a
warning, and the change stands.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import DateTime, Integer, String, Text, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from ._lazy_table import LazyTable
from .redaction import redact

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from flasker.project import Project

logger = logging.getLogger(__name__)
T = TypeVar("T")

ACTIVITY_TABLE = "flasker_console_activity"
#: What the log records.
ACTIONS = (
    "cfg.saved",
    "task.sent",
    "task.retried",
    "task.revoked",
    "task.rate_limit",
    "task.time_limit",
    "worker.pool_grow",
    "worker.pool_shrink",
    "worker.add_consumer",
    "worker.cancel_consumer",
    "worker.shutdown",
    "beat.run_now",
    "project.scaffolded",
)
#: Entries per page.
PER_PAGE = 50
#: Who acted when no sign-in is set up.
LOCAL = "local"
#: Longest stored detail (a diff of a very large cfg is clipped).
MAX_DETAIL = 100_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class ActivityRecord:
    """One change made through the console."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    who: Mapped[str] = mapped_column(String(320), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(String(1000), nullable=False, default="")
    detail: Mapped[str | None] = mapped_column(Text)

    @property
    def is_diff(self) -> bool:
        return self.action == "cfg.saved"


_TABLE = LazyTable(ACTIVITY_TABLE, ActivityRecord, "ConsoleActivity", __name__, "its activity log")


def activity_model() -> Any:
    """The `ConsoleActivity` model, mapped on core's `Model` on first use."""
    return _TABLE.model()


def ensure_table(project: Project) -> None:
    """Create the table when missing (once per engine and mapping)."""
    _TABLE.ensure(project)


# -- recording ------------------------------------------------------------------------------
def as_json(value: Any) -> str:
    return json.dumps(value, default=repr, ensure_ascii=False)


def entry(project: Project, who: str | None, action: str, target: str, detail: str | None) -> Any:
    """A new (unsaved) entry, or None when the log cannot be written (logged as a warning)."""
    if action not in ACTIONS:  # a programming error, not an operator's: say which name
        raise ValueError(f"unknown activity action {action!r}; known: {', '.join(ACTIONS)}")
    try:
        ensure_table(project)
        model = activity_model()
    except Exception as error:  # the change stands; only its record is lost
        _warn(action, target, error)
        return None
    if detail is not None and len(detail) > MAX_DETAIL:
        detail = detail[: MAX_DETAIL - 1] + "…"
    return model(who=who or LOCAL, action=action, target=target[:1000], detail=detail, at=utcnow())


def commit(session: Session, logged: Any, apply: Callable[[Session], T]) -> T:
    """Make the change (`apply`) and add the activity entry `logged` in one transaction; when
    the entry makes the commit fail, make the change again alone and log a warning."""
    result = apply(session)
    if logged is None:
        session.commit()
        return result
    session.add(logged)
    try:
        session.commit()
    except SQLAlchemyError as error:
        session.rollback()
        _warn(logged.action, logged.target, error)
        session.expunge_all()
        result = apply(session)
        session.commit()
    return result


def record(project: Project, who: str | None, action: str, target: str, detail: str | None) -> None:
    """Record a change in a transaction of its own (for changes that write no row)."""
    logged = entry(project, who, action, target, detail)
    if logged is None:
        return
    try:
        with project.db.Session() as session:
            session.add(logged)
            session.commit()
    except Exception as error:
        _warn(action, target, error)


def _warn(action: str, target: str, error: BaseException) -> None:
    logger.warning(
        "the console could not record %s %s in %s: %s: %s",
        action,
        target,
        ACTIVITY_TABLE,
        type(error).__name__,
        error,
    )


# -- reading --------------------------------------------------------------------------------
@dataclass
class ActivityPage:
    rows: list[Any]
    number: int
    has_next: bool
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PER_PAGE))


def page(project: Project, number: int = 1, per_page: int = PER_PAGE) -> ActivityPage:
    """Entries `per_page` at a time, newest first."""
    model = activity_model()
    ensure_table(project)
    number = max(1, number)
    with project.db.Session(expire_on_commit=False) as session:
        total = session.scalar(select(func.count()).select_from(model)) or 0
        query = (
            select(model)
            .order_by(model.id.desc())
            .offset((number - 1) * per_page)
            .limit(per_page + 1)
        )
        rows = list(session.scalars(query))
        for row in rows:
            session.expunge(row)
    return ActivityPage(rows[:per_page], number, len(rows) > per_page, total)


def redact_diff(diff: str) -> str:
    """A cfg diff as a viewer may read it: the values of secret keys (and passwords in URLs)
    masked on every `KEY = value` line (see redaction.py)."""
    lines = []
    for line in diff.splitlines(keepends=True):
        if line.startswith(("---", "+++", "@@")) or not line:
            lines.append(line)
            continue
        mark, body = line[:1], line[1:]
        end = "\n" if body.endswith("\n") else ""
        content = body.rstrip("\n")
        for separator in ("=", ":"):
            key, found, value = content.partition(separator)
            if found and key.strip() and not key.lstrip().startswith(("#", ";", "[")):
                leading = value[: len(value) - len(value.lstrip())]
                masked = redact(key.strip(), value.strip())
                if masked != value.strip():
                    content = f"{key}{separator}{leading}{masked}"
                break
        else:
            if "@" in content:  # a continuation line holding a URL
                content = redact("", content)
        lines.append(f"{mark}{content}{end}")
    return "".join(lines)


def changed_sections(before: str, after: str) -> list[str]:
    """The sections a cfg change touched, in the order of the edited file."""
    import difflib
    import re

    header = re.compile(r"^\s*\[([^\]]+)\]")

    def section_at(lines: list[str], index: int) -> str | None:
        for line in reversed(lines[: index + 1]):
            found = header.match(line)
            if found:
                return found.group(1).strip()
        return None

    old, new = before.splitlines(), after.splitlines()
    names: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        touched = [section_at(old, i) for i in range(i1, i2)]
        touched += [section_at(new, j) for j in range(j1, j2)]
        for name in touched:
            if name and name not in names:
                names.append(name)
    return names


def cfg_target(file_name: str, before: str, after: str) -> str:
    sections = changed_sections(before, after)
    return f"{file_name} [{', '.join(sections)}]" if sections else file_name
