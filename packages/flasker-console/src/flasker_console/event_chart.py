"""The overview's "Tasks, last hour" chart: one GROUP BY over the task events, drawn as SVG
bars (the geometry is computed here; the template only places the rectangles)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from .task_events import ensure_table, minute_of, utcnow

if TYPE_CHECKING:
    from flasker.project import Project

#: Minutes the chart shows.
CHART_MINUTES = 60


@dataclass
class Minute:
    start: datetime
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


@dataclass
class Bar:
    """One minute's stacked bar, in the SVG's coordinates."""

    minute: Minute
    x: float
    width: float
    succeeded_y: float
    succeeded_height: float
    failed_y: float
    failed_height: float


@dataclass
class Chart:
    """Succeeded and failed tasks per minute, oldest minute first."""

    minutes: list[Minute]
    width: int = 600
    height: int = 120

    @property
    def succeeded(self) -> int:
        return sum(m.succeeded for m in self.minutes)

    @property
    def failed(self) -> int:
        return sum(m.failed for m in self.minutes)

    @property
    def peak(self) -> int:
        return max((m.total for m in self.minutes), default=0)

    @property
    def summary(self) -> str:
        return f"{self.succeeded} succeeded, {self.failed} failed in the last hour"

    @property
    def bars(self) -> list[Bar]:
        """Bars of the minutes with tasks (an empty minute draws nothing)."""
        slot = self.width / max(1, len(self.minutes))
        scale = self.height / self.peak if self.peak else 0.0
        bars = []
        for index, minute in enumerate(self.minutes):
            if not minute.total:
                continue
            ok = minute.succeeded * scale
            bad = minute.failed * scale
            bars.append(
                Bar(
                    minute,
                    x=round(index * slot + slot * 0.1, 2),
                    width=round(slot * 0.8, 2),
                    succeeded_y=round(self.height - ok, 2),
                    succeeded_height=round(ok, 2),
                    failed_y=round(self.height - ok - bad, 2),
                    failed_height=round(bad, 2),
                )
            )
        return bars


def last_hour(project: Project, now: datetime | None = None) -> Chart:
    """The chart of the last `CHART_MINUTES` minutes (this one included): one query."""
    model = ensure_table(project)
    end = minute_of(now or utcnow())
    start = end - CHART_MINUTES + 1
    query = (
        select(model.minute, model.state, func.count())
        .where(model.minute >= start, model.minute <= end)
        .where(model.state.in_(("SUCCESS", "FAILURE")))
        .group_by(model.minute, model.state)
    )
    with project.db.engine.connect() as connection:
        counts = connection.execute(query).all()
    minutes = [Minute(datetime.fromtimestamp(m * 60, UTC)) for m in range(start, end + 1)]
    for minute, state, count in counts:
        bucket = minutes[int(minute) - start]
        if state == "SUCCESS":
            bucket.succeeded = int(count)
        else:
            bucket.failed = int(count)
    return Chart(minutes)
