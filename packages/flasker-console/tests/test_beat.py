"""The tasks page lists `[CELERY] beat_schedule`: each entry's task, arguments, schedule in
words and next run (Celery's own schedule objects, last runs from beat's state file when it can
be read), with Run now for admins. A run on a real worker is in test_workers_actions.py."""

from __future__ import annotations

import json
import shelve
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.beat import ScheduleEntry

from flasker_console import activity
from flasker_console.beat import read_schedule

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any

#: Braces doubled: make_console formats the cfg with `module` and friends.
BEAT_SECTION = (
    "\n[CELERY]\nbeat_schedule = "
    + json.dumps(
        {
            "census": {
                "task": "MODULE.census",
                "schedule": 90,
                "args": [1, "north"],
                "kwargs": {"loud": True},
                "options": {"queue": "reports"},
            },
            "nightly": {"task": "MODULE.report", "schedule": "30 3 * * *"},
            "ghost": {"task": "nowhere.gone", "schedule": 60},
        }
    )
    .replace("{", "{{")
    .replace("}", "}}")
    .replace("MODULE", "{module}")
    + "\n"
)

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

current_project.register_manager(ConsoleManager())
celery = current_project.celery


@celery.task(name="{module}.census")
def census(n, label, loud=False):
    return n


@celery.task(name="{module}.report")
def report():
    return "done"
"""

NOW = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def beat_site(make_console: Callable[..., ConsoleSite], sample_cfg: str) -> ConsoleSite:
    return make_console(cfg=sample_cfg + BEAT_SECTION, source=SOURCE)


@pytest.fixture
def site(beat_site: ConsoleSite) -> ConsoleSite:
    """The beat project with no state file of beat's (each test writes the one it needs)."""
    for path in state_path(beat_site).parent.glob(state_path(beat_site).name + "*"):
        path.unlink()
    beat_site.reset()
    return beat_site


def state_path(site: ConsoleSite) -> Path:
    return Path(site.project.celery.conf.beat_schedule_filename)


def write_state(site: ConsoleSite, last_runs: dict[str, tuple[datetime, int]]) -> None:
    """Beat's state file as beat writes it: a shelve whose 'entries' are ScheduleEntry objects."""
    celery = site.project.celery
    entries = {}
    for name, (when, count) in last_runs.items():
        conf = celery.conf.beat_schedule[name]
        entries[name] = ScheduleEntry(
            name=name,
            task=conf["task"],
            last_run_at=when,
            total_run_count=count,
            schedule=conf["schedule"],
            app=celery,
        )
    with shelve.open(str(state_path(site))) as store:
        store["entries"] = entries


def by_name(site: ConsoleSite, now: datetime = NOW) -> dict[str, Any]:
    return {entry.name: entry for entry in read_schedule(site.project, now=now).entries}


def row(page: str, name: str) -> str:
    start = page.index(f'data-entry="{name}"')
    return page[start : page.index("</tr>", start)]


def test_each_entry_shows_its_task_arguments_schedule_and_next_run(site: ConsoleSite) -> None:
    module = site.project.config.modules[0]
    entries = by_name(site)
    census, nightly, ghost = entries["census"], entries["nightly"], entries["ghost"]

    assert census.every == "every 90 s"
    assert (census.args, census.kwargs, census.queue) == ([1, "north"], {"loud": True}, "reports")
    # never run: a freshly started beat runs an interval entry one interval later
    assert census.next_run is None
    assert census.first_run_after == "90 s after beat starts"
    # a cron entry runs at its next matching minute, whether beat ran before or not
    assert nightly.every == "at 03:30 every day"
    assert nightly.next_run == datetime(2026, 3, 11, 3, 30, tzinfo=UTC)
    assert read_schedule(site.project, now=NOW).until(nightly.next_run) == "in 5 h 30 min"
    assert ghost.is_registered is False

    page = site.page("/tasks")
    assert page.count('data-testid="beat-entry"') == 3
    assert f"<code>{module}.census</code>" in row(page, "census")
    assert '[1,"north"] {"loud":true}' in row(page, "census")
    assert "queue reports" in row(page, "census")
    assert "90 s after beat starts" in row(page, "census")
    assert 'data-testid="run-now-census"' in page
    assert "T03:30:00+00:00" in row(page, "nightly")
    assert "not registered in this project" in row(page, "ghost")
    assert 'data-testid="run-now-ghost"' not in page
    assert "has not written" in page  # why no last run is shown


def test_last_runs_come_from_beats_state_file(site: ConsoleSite) -> None:
    write_state(
        site,
        {
            "census": (NOW - timedelta(seconds=30), 4),
            "nightly": (datetime(2026, 3, 10, 3, 30, tzinfo=UTC), 9),
        },
    )
    entries = by_name(site)
    assert entries["census"].last_run == NOW - timedelta(seconds=30)
    assert entries["census"].run_count == 4
    assert entries["census"].next_run == NOW + timedelta(seconds=60)
    assert entries["nightly"].next_run == datetime(2026, 3, 11, 3, 30, tzinfo=UTC)
    # overdue (beat stopped for a while): due now, not in the past
    late = by_name(site, now=NOW + timedelta(hours=2))["census"]
    assert late.next_run == NOW + timedelta(hours=2)

    page = site.page("/tasks")
    assert "last runs read from beat&#39;s state file" in page
    assert "4 runs since beat" in row(page, "census")
    assert "not recorded" in row(page, "ghost")

    # beat keeps the file open while it runs (gdbm: locked; read without the lock)
    with shelve.open(str(state_path(site))):
        assert by_name(site)["census"].run_count == 4


def test_an_unreadable_state_file_is_said_not_raised(site: ConsoleSite) -> None:
    state_path(site).write_bytes(b"\x00not a database beat wrote\xff" * 50)
    schedule = read_schedule(site.project, now=NOW)
    assert "cannot be read" in schedule.state_detail
    assert {entry.name for entry in schedule.entries} == {"census", "nightly", "ghost"}
    page = site.page("/tasks")
    assert "cannot be read" in page
    assert "T03:30:00+00:00" in row(page, "nightly")  # next runs are still computed


def test_without_a_schedule_the_page_says_how_to_add_one(
    standard_site: ConsoleSite,
) -> None:
    page = standard_site.page("/tasks")
    assert 'data-testid="no-beat"' in page
    assert "[CELERY] beat_schedule" in page
    assert 'data-testid="beat-entry"' not in page


def test_run_now_sends_the_entry_with_its_arguments_and_logs_it(site: ConsoleSite) -> None:
    module = site.project.config.modules[0]
    form = site.form(site.page("/tasks"), "run-now-census")
    assert form["entry"] == "census"
    response = site.post("/tasks/beat/run", data=form)
    assert response.status_code == 303, response.get_data(as_text=True)
    task_id = response.headers["Location"].split("sent=")[1]

    listing = site.get("/tasks/list", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'data-testid="task-{task_id}"' in listing
    assert f"{module}.census(1, &#39;north&#39;, loud=True)" in listing
    assert "reports" in listing  # the entry's queue option

    logged = activity.page(site.project).rows
    assert logged[0].action == "beat.run_now"
    assert logged[0].target == f"census {task_id}"

    # htmx: the notice names the entry
    answer = site.post("/tasks/beat/run", data=form, headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "Ran beat entry census now" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [("nope", "no entry &#39;nope&#39; in [CELERY] beat_schedule"), ("ghost", "not registered")],
)
def test_run_now_refuses_what_it_cannot_send(site: ConsoleSite, entry: str, problem: str) -> None:
    form = site.form(site.page("/tasks"), "run-now-census")
    before = len(activity.page(site.project).rows)
    response = site.post(
        "/tasks/beat/run", data={**form, "entry": entry}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 422
    assert problem in response.get_data(as_text=True)
    assert len(activity.page(site.project).rows) == before


def test_times_are_shown_in_utc_whatever_the_apps_timezone(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    # Celery reads a cron entry in [CELERY] timezone: 03:30 in Paris (UTC+1 in March) is 02:30
    # UTC, and the page, which says "Times in UTC", must say 02:30
    paris = make_console(cfg=sample_cfg + BEAT_SECTION + "timezone = Europe/Paris\n", source=SOURCE)
    nightly = by_name(paris)["nightly"]
    assert nightly.next_run == datetime(2026, 3, 11, 2, 30, tzinfo=UTC)
    assert nightly.next_run.utcoffset() == timedelta(0)
    # today's page: 02:30 UTC in winter, 01:30 in summer, never the Paris wall-clock 03:30
    today = {e.name: e for e in read_schedule(paris.project).entries}["nightly"].next_run
    assert today is not None
    assert today.hour in (1, 2)
    assert f"T{today:%H:%M}:00+00:00" in row(paris.page("/tasks"), "nightly")
