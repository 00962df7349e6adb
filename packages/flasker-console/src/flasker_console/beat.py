"""The project's periodic tasks (`[CELERY] beat_schedule`) as the tasks page shows them.

Each entry gets its schedule in words and its next run, computed with Celery's own schedule
objects (`remaining_estimate`), so the console and beat agree. Beat's last run of an entry is
read from beat's state file (the shelve at `beat_schedule_filename`) when it can be read;
beat keeps that file open while it runs, so it is opened read-only and, for gdbm, without
taking the lock. A missing, locked or corrupt file is never an error: the page says why it
has no last run, and the next run is then what a freshly started beat would do (an interval
entry runs one interval after beat starts; a cron entry at its next matching minute).

    schedule = read_schedule(project)
    for entry in schedule.entries:
        print(entry.name, entry.every, entry.next_run)
"""

from __future__ import annotations

import copy
import dbm
import shelve
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery.schedules import crontab, maybe_schedule

from flasker.health import within

from .exceptions import ConsoleError

if TYPE_CHECKING:
    from flasker.project import Project

#: Seconds allowed to read beat's state file (a file on a stalled network disk must not hang).
STATE_TIMEOUT = 1.0


class BeatEntryError(ConsoleError):
    """The form names no entry of the beat schedule, or the entry cannot be sent as written."""

    status = 422


@dataclass
class BeatEntry:
    """One entry of `beat_schedule`, with when it last ran (if known) and when it runs next."""

    name: str
    task: str
    args: list[Any]
    kwargs: dict[str, Any]
    options: dict[str, Any]
    every: str
    kind: str  # "interval" or "cron"
    is_registered: bool
    last_run: datetime | None = None
    run_count: int | None = None
    next_run: datetime | None = None
    first_run_after: str | None = None  # interval entries without a last run
    problem: str | None = None

    @property
    def queue(self) -> str | None:
        queue = self.options.get("queue")
        return str(queue) if queue else None


@dataclass
class BeatSchedule:
    """Every entry, and what the page says about beat's state file."""

    entries: list[BeatEntry] = field(default_factory=list)
    state_file: str | None = None
    state_detail: str = ""
    now: datetime | None = None

    def until(self, moment: datetime | None) -> str:
        """`in 4 min 10 s` (or `due now`): how far `moment` is from this schedule's now."""
        return until(moment, self.now)


def read_schedule(
    project: Project, now: datetime | None = None, registered: Collection[str] | None = None
) -> BeatSchedule:
    """The project's beat schedule; `now` (aware) fixes the clock (tests).

    `registered`: the project's task names when the caller knows them better than this
    process's Celery app (`flasker console` never imports a project's modules: a subprocess
    lists its tasks); default: the tasks registered on `project.celery`.
    """
    celery = project.celery
    names = set(celery.tasks if registered is None else registered)
    entries_conf: dict[str, Any] = dict(celery.conf.beat_schedule or {})
    filename = celery.conf.beat_schedule_filename
    now = now or celery.now()
    schedule = BeatSchedule(state_file=str(filename) if filename else None, now=now)
    if not entries_conf:
        return schedule
    state, schedule.state_detail = read_state(filename)
    for name, conf in entries_conf.items():
        entry = _entry(celery, name, conf, state.get(name), now)
        entry.is_registered = entry.task in names
        schedule.entries.append(entry)
    return schedule


def find_entry(project: Project, name: str, registered: Collection[str] | None = None) -> BeatEntry:
    """The entry called `name`, or `BeatEntryError` (a stale page, or a cfg edited meanwhile)."""
    for entry in read_schedule(project, registered=registered).entries:
        if entry.name == name:
            return entry
    raise BeatEntryError(
        f"no entry {name!r} in [CELERY] beat_schedule (the page may be older than the cfg; "
        "reload it)"
    )


def sendable(entry: BeatEntry) -> tuple[list[Any], dict[str, Any], float | None, str | None]:
    """The entry's args, kwargs, countdown and queue as the console's task send takes them."""
    if not entry.is_registered:
        raise BeatEntryError(
            f"entry {entry.name!r}: its task {entry.task!r} is not registered in this project"
        )
    if entry.problem:
        raise BeatEntryError(f"entry {entry.name!r}: {entry.problem}")
    countdown = entry.options.get("countdown")
    if countdown is not None and (
        isinstance(countdown, bool) or not isinstance(countdown, int | float) or countdown < 0
    ):
        raise BeatEntryError(
            f"entry {entry.name!r}: options.countdown must be 0 or more seconds, got {countdown!r}"
        )
    return list(entry.args), dict(entry.kwargs), countdown or None, entry.queue


# -- beat's state file ----------------------------------------------------------------------
def read_state(filename: str | None) -> tuple[dict[str, Any], str]:
    """Beat's stored entries (name → ScheduleEntry) and a sentence on where they came from.

    Never raises: an unreadable file yields `{}` and the reason.
    """
    if not filename:
        return {}, "beat_schedule_filename is not set, so beat keeps no state to read"
    path = Path(filename)
    try:
        return within(STATE_TIMEOUT, lambda: _load_state(path))
    except Exception as error:  # locked, corrupt, unpicklable, too slow: say so, never crash
        reason = str(error) or type(error).__name__
        return {}, f"beat's state file {path} cannot be read ({type(error).__name__}: {reason})"


def _open_read_only(path: str, kind: str) -> Any:
    """The dbm file for reading. beat holds gdbm's writer lock while it runs: gdbm files are
    read without taking the lock."""
    if kind == "dbm.gnu":
        from dbm import gnu

        return gnu.open(path, "ru")
    return dbm.open(path, "r")


def _load_state(path: Path) -> tuple[dict[str, Any], str]:
    kind = dbm.whichdb(str(path))
    if kind is None:
        return {}, f"beat has not written {path} yet (not run yet, or beat is not running)"
    if kind == "":
        raise ValueError("not a database file beat could have written")
    with _open_read_only(str(path), kind) as database, shelve.Shelf[Any](database) as shelf:
        entries = shelf.get("entries") or {}
        if not isinstance(entries, dict):
            raise ValueError("its 'entries' record is not a mapping")
        return dict(entries), f"last runs read from beat's state file {path}"


# -- one entry -------------------------------------------------------------------------------
def _entry(celery: Any, name: str, conf: Any, stored: Any, now: datetime) -> BeatEntry:
    conf = conf if isinstance(conf, dict) else {}
    task = str(conf.get("task", ""))
    args, kwargs, options = conf.get("args", ()), conf.get("kwargs", {}), conf.get("options", {})
    problem = None
    if not isinstance(args, list | tuple):
        problem, args = f"args must be a JSON list, got {args!r}", []
    if not isinstance(kwargs, dict):
        problem, kwargs = f"kwargs must be a JSON object, got {kwargs!r}", {}
    if not isinstance(options, dict):
        problem, options = f"options must be a JSON object, got {options!r}", {}
    when = conf.get("schedule")
    schedule = maybe_schedule(copy.copy(when), app=celery)
    schedule.nowfun = lambda: now
    kind = "cron" if isinstance(schedule, crontab) else "interval"
    entry = BeatEntry(
        name=name,
        task=task,
        args=list(args),
        kwargs=dict(kwargs),
        options=dict(options),
        every=describe(schedule),
        kind=kind,
        is_registered=False,  # set by read_schedule
        problem=problem,
    )
    last_run = getattr(stored, "last_run_at", None)
    if isinstance(last_run, datetime):
        entry.last_run = schedule.maybe_make_aware(last_run)
        entry.run_count = getattr(stored, "total_run_count", None)
        entry.next_run = now + max(schedule.remaining_estimate(entry.last_run), timedelta(0))
    elif kind == "cron":
        # a beat started now would run it at the next matching minute
        entry.next_run = now + max(schedule.remaining_estimate(now), timedelta(0))
    else:
        entry.first_run_after = f"{_duration(schedule.run_every)} after beat starts"
    # the page says "Times in UTC": Celery gives them in the app's timezone ([CELERY] timezone)
    if entry.last_run is not None:
        entry.last_run = entry.last_run.astimezone(UTC)
    if entry.next_run is not None:
        entry.next_run = entry.next_run.astimezone(UTC)
    return entry


def describe(schedule: Any) -> str:
    """`every 5 min`, `at 03:00 every day`, `cron 0 3 * * 1` — the schedule in words."""
    if isinstance(schedule, crontab):
        return _describe_cron(schedule)
    return f"every {_duration(schedule.run_every)}"


def _describe_cron(schedule: crontab) -> str:
    minute, hour = str(schedule._orig_minute), str(schedule._orig_hour)
    rest = (
        str(schedule._orig_day_of_month),
        str(schedule._orig_month_of_year),
        str(schedule._orig_day_of_week),
    )
    text = f"cron {minute} {hour} {' '.join(rest)}"
    if rest != ("*", "*", "*"):
        return text
    if minute == "*" and hour == "*":
        return "every minute"
    if minute.startswith("*/") and hour == "*":
        return f"every {minute[2:]} minutes"
    if minute.isdigit() and hour == "*":
        return f"at minute {int(minute)} of every hour"
    if minute.isdigit() and hour.isdigit():
        return f"at {int(hour):02d}:{int(minute):02d} every day"
    return text


def _duration(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)} {unit}"
    return f"{seconds:g} s"


def until(moment: datetime | None, now: datetime | None) -> str:
    """`in 4 min 10 s` (or `due now`): how far `moment` is from `now`, for people."""
    if moment is None or now is None:
        return ""
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return "due now"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    return "in " + " ".join(parts[:2])
