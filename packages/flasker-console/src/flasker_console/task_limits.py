"""A task type's rate limit and soft/hard time limits, set on the running workers.

Celery's remote control (`control.rate_limit`, `control.time_limit`) changes the limits of the
workers running now, in their memory: a worker started later (or restarted) has the task's
declared limits again. Each change is broadcast to every worker with `reply=True`, and each
worker's answer (its `ok` text or its error) is what the tasks page shows and the activity log
keeps; no answer at all is an error (nothing changed anywhere).

Input is checked before anything is sent: a rate is Celery's `N`, `N/s`, `N/m` or `N/h` (empty:
no limit); a time limit is seconds above 0 (empty: none), the soft one below the hard one.

    rate = rate_field("10/m")
    change = set_rate(project, "shop.tasks.bill", rate, timeout=1.5, check_timeout=2.0)
    change.replies  # [Reply("celery@host", True, "new rate limit set successfully")]
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flasker.health import CheckTimeout, check_broker, within

from . import activity
from .exceptions import ConsoleError
from .workers import WorkerUnavailable

if TYPE_CHECKING:
    from flasker.project import Project


#: Celery's rate limit text: a number of tasks, per second (the default), minute or hour.
RATE = re.compile(r"(\d{1,9}(?:\.\d{1,6})?)(?:/([smh]))?")
#: Longest time limit accepted, in seconds (a year: anything longer is a typing mistake).
MAX_SECONDS = 365 * 24 * 3600.0
#: The activity log's actions for the two changes.
RATE_ACTION = "task.rate_limit"
TIME_ACTION = "task.time_limit"


class LimitInputError(ConsoleError):
    """A limit the console refuses to send (the message names the field and why)."""

    status = 422


@dataclass(frozen=True)
class Reply:
    """One worker's answer to a limit change."""

    worker: str
    ok: bool
    text: str


@dataclass(frozen=True)
class LimitChange:
    """A limit change sent to the workers, and their replies."""

    task: str
    action: str
    values: dict[str, Any]
    replies: list[Reply]

    @property
    def accepted(self) -> list[Reply]:
        return [reply for reply in self.replies if reply.ok]

    @property
    def described(self) -> str:
        """`rate limit 10/m` or `time limits soft 10 s, hard 30 s` (none for empty values)."""
        if self.action == RATE_ACTION:
            return f"rate limit {self.values['rate_limit'] or 'none'}"

        def seconds(value: float | None) -> str:
            return "none" if value is None else f"{value:g} s"

        soft, hard = self.values["soft_time_limit"], self.values["time_limit"]
        return f"time limits soft {seconds(soft)}, hard {seconds(hard)}"

    @property
    def summary(self) -> str:
        answers = "; ".join(
            f"{reply.worker}: {reply.text if reply.ok else 'refused: ' + reply.text}"
            for reply in self.replies
        )
        return f"{self.task}: {self.described} sent to {len(self.replies)} worker(s): {answers}."


# -- the fields -------------------------------------------------------------------------------
def rate_field(text: str | None) -> str | None:
    """The rate limit from the form (`10/m`), None when empty (no limit), else
    `LimitInputError` naming the field."""
    value = (text or "").strip()
    if not value:
        return None
    found = RATE.fullmatch(value)
    if found is None:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise LimitInputError(
            f"rate_limit: {shown!r} is not a rate: write a number of tasks, alone (per "
            "second) or followed by /s, /m or /h (10/m is ten a minute); leave it empty for none"
        )
    return value


def seconds_field(name: str, text: str | None) -> float | None:
    """A time limit in seconds from the form, None when empty, else `LimitInputError`."""
    value = (text or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise LimitInputError(
            f"{name}: {shown!r} is not a number of seconds (leave it empty for none)"
        ) from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise LimitInputError(
            f"{name}: {value} is not a time limit: it must be more than 0 seconds "
            "(leave it empty for none)"
        )
    if seconds > MAX_SECONDS:
        raise LimitInputError(f"{name}: {value} s is more than a year ({MAX_SECONDS:g} s)")
    return seconds


def time_fields(soft_text: str | None, hard_text: str | None) -> tuple[float | None, float | None]:
    """(soft, hard) time limits from the form; the soft one must end before the hard one."""
    soft = seconds_field("soft_time_limit", soft_text)
    hard = seconds_field("time_limit", hard_text)
    if soft is not None and hard is not None and soft >= hard:
        raise LimitInputError(
            f"soft_time_limit: {soft:g} s is not below the hard time_limit ({hard:g} s): the "
            "soft limit warns the task before the hard one kills it"
        )
    return soft, hard


# -- sending ----------------------------------------------------------------------------------
def replies_of(answers: Any) -> list[Reply]:
    """Remote-control replies (`[{hostname: {"ok": text} or {"error": text}}]`) as `Reply`s,
    sorted by worker."""
    replies = []
    for answer in answers or []:
        if not isinstance(answer, dict):
            continue
        for worker, body in answer.items():
            if isinstance(body, dict) and "ok" in body:
                replies.append(Reply(str(worker), True, str(body["ok"])))
            elif isinstance(body, dict):
                replies.append(Reply(str(worker), False, str(body.get("error", body))))
            else:
                replies.append(Reply(str(worker), False, str(body)))
    return sorted(replies, key=lambda reply: reply.worker)


def _broadcast(
    project: Project,
    what: str,
    command: Callable[[], Any],
    timeout: float,
    check_timeout: float,
) -> list[Reply]:
    """Check the broker, send `command` (a broadcast waiting `timeout` s for replies) and
    return the replies; a broker that is down, stalls or leaves it unanswered is
    `WorkerUnavailable` (503)."""
    broker = check_broker(project, check_timeout)
    if not broker.ok:
        raise WorkerUnavailable(f"cannot set {what}: the broker is down ({broker.detail})")
    try:
        answers = within(timeout + 2.0, command)
    except CheckTimeout:
        raise WorkerUnavailable(
            f"cannot set {what}: the broker did not take the request within {timeout + 2:g} s"
        ) from None
    except Exception as error:
        raise WorkerUnavailable(f"cannot set {what}: {type(error).__name__}: {error}") from None
    replies = replies_of(answers)
    if not replies:
        raise WorkerUnavailable(
            f"no worker answered within {timeout:g} s: {what} was set nowhere (start a worker, "
            "then set it again)"
        )
    return replies


def set_rate(
    project: Project, task: str, rate: str | None, timeout: float, check_timeout: float
) -> LimitChange:
    """Set `task`'s rate limit (None: no limit) on every running worker."""
    control = project.celery.control
    replies = _broadcast(
        project,
        f"the rate limit of {task}",
        lambda: control.rate_limit(task, rate, reply=True, timeout=timeout),
        timeout,
        check_timeout,
    )
    return LimitChange(task, RATE_ACTION, {"rate_limit": rate}, replies)


def set_time(
    project: Project,
    task: str,
    soft: float | None,
    hard: float | None,
    timeout: float,
    check_timeout: float,
) -> LimitChange:
    """Set `task`'s soft and hard time limits (None: none) on every running worker."""
    control = project.celery.control
    replies = _broadcast(
        project,
        f"the time limits of {task}",
        lambda: control.time_limit(task, soft=soft, hard=hard, reply=True, timeout=timeout),
        timeout,
        check_timeout,
    )
    values = {"soft_time_limit": soft, "time_limit": hard}
    return LimitChange(task, TIME_ACTION, values, replies)


# -- the activity log -------------------------------------------------------------------------
def record(project: Project, who: str | None, change: LimitChange) -> None:
    """Write the change and each worker's reply to the activity log, in a transaction of its
    own (the workers changed no row); a refused entry is a warning and the change stands."""
    replies = {r.worker: {"ok" if r.ok else "error": r.text} for r in change.replies}
    detail = {**change.values, "replies": replies}
    activity.record(project, who, change.action, change.task, activity.as_json(detail))
