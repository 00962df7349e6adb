"""The every-task list: filters from a query string, and one page of the task history.

Newest first (the first event heard), filtered by task name, state, worker and time range,
searched by task id (a prefix) and within args/kwargs, and paged by a cursor (the last row's
time and id), so a page costs one query however deep it is and whatever arrives meanwhile.
Each filter has an index ending in the order (task_history.py).

Bad input (an unknown state, a time that is not one, a cursor this page did not make) is a
`SearchError` (400) naming the parameter, never a 500.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from .exceptions import ConsoleError
from .task_history import ensure_table

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flasker.project import Project

#: The states a task can be in, in the order the filter offers them.
STATES = ("RECEIVED", "STARTED", "RETRY", "SUCCESS", "FAILURE", "REVOKED")
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURSOR = re.compile(r"^(\d{1,20})_(\d{1,20})$")


class SearchError(ConsoleError):
    """A filter of the task list is not one it understands (the message names which)."""

    status = 400


@dataclass(frozen=True)
class Filters:
    name: str = ""
    state: str = ""
    worker: str = ""
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    limit: int = PAGE_SIZE

    def query_args(self) -> dict[str, str]:
        """The filters as query-string arguments (for the next page's and the poll's URLs)."""
        args = {"name": self.name, "state": self.state, "worker": self.worker, "q": self.q}
        if self.since is not None:
            args["since"] = _local_text(self.since)
        if self.until is not None:
            args["until"] = _local_text(self.until)
        if self.limit != PAGE_SIZE:
            args["limit"] = str(self.limit)
        return {k: v for k, v in args.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.query_args())


def _local_text(moment: datetime) -> str:
    """A time as a `datetime-local` input shows it (UTC, to the second)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _time(args: Mapping[str, str], key: str) -> datetime | None:
    text = (args.get(key) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SearchError(
            f"{key}: {text[:40]!r} is not a time (write it as 2026-12-05T14:30, in UTC)"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(args: Mapping[str, str], key: str, limit: int) -> str:
    text = (args.get(key) or "").strip()
    if len(text) > limit:
        raise SearchError(f"{key}: longer than {limit} characters")
    return text


def parse_filters(args: Mapping[str, str]) -> Filters:
    """The filters of a query string (request.args); SearchError names a bad one."""
    state = _text(args, "state", 32).upper()
    if state and state not in STATES:
        raise SearchError(f"state: {state!r} is not a task state (one of {', '.join(STATES)})")
    limit_text = (args.get("limit") or "").strip()
    limit = PAGE_SIZE
    if limit_text:
        if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_PAGE_SIZE:
            raise SearchError(f"limit: expected a whole number from 1 to {MAX_PAGE_SIZE}")
        limit = int(limit_text)
    since, until = _time(args, "since"), _time(args, "until")
    if since is not None and until is not None and since > until:
        raise SearchError("since: later than until (the range would be empty)")
    return Filters(
        name=_text(args, "name", 255),
        state=state,
        worker=_text(args, "worker", 255),
        since=since,
        until=until,
        q=_text(args, "q", 200),
        limit=limit,
    )


def parse_cursor(text: str | None) -> tuple[datetime, int] | None:
    """The position after which the page starts (`cursor=` of a "next" link), or None."""
    if not text:
        return None
    found = _CURSOR.match(text.strip())
    if found is None:
        raise SearchError("cursor: not one this list made (follow its Older link)")
    micros, row_id = int(found[1]), int(found[2])
    try:
        at = EPOCH + timedelta(microseconds=micros)  # exact, unlike a float of seconds
    except OverflowError:
        raise SearchError("cursor: not one this list made (follow its Older link)") from None
    return at, row_id


def make_cursor(row: Any) -> str:
    at = row.first_at if row.first_at.tzinfo else row.first_at.replace(tzinfo=UTC)
    return f"{(at - EPOCH) // timedelta(microseconds=1)}_{row.id}"


@dataclass
class Page:
    rows: list[Any]
    filters: Filters
    next_cursor: str | None = None
    #: Whether this is the list's first page (the one that polls for new tasks).
    first: bool = True
    problems: list[str] = field(default_factory=list)


def search(project: Project, filters: Filters, cursor: str | None = None) -> Page:
    """One page of the task history, newest first: ONE query."""
    model = ensure_table(project)
    after = parse_cursor(cursor)
    query = select(model)
    if filters.name:
        query = query.where(model.name == filters.name)
    if filters.state:
        query = query.where(model.state == filters.state)
    if filters.worker:
        query = query.where(model.hostname == filters.worker)
    if filters.since is not None:
        query = query.where(model.first_at >= filters.since)
    if filters.until is not None:
        query = query.where(model.first_at <= filters.until)
    if filters.q:
        query = query.where(
            or_(
                model.task_id.startswith(filters.q, autoescape=True),
                model.args.contains(filters.q, autoescape=True),
                model.kwargs.contains(filters.q, autoescape=True),
            )
        )
    if after is not None:
        at, row_id = after
        query = query.where(or_(model.first_at < at, and_(model.first_at == at, model.id < row_id)))
    query = query.order_by(model.first_at.desc(), model.id.desc()).limit(filters.limit + 1)
    with project.db.Session(expire_on_commit=False) as session:
        rows = list(session.scalars(query))
        session.expunge_all()
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return Page(rows, filters, make_cursor(rows[-1]) if more else None, first=after is None)
