"""A week of an embedded broker's life, on a simulated clock: its folder stays bounded.

On the embedded broker (kombu's `filesystem://` transport) every worker heartbeat and task
event is a file written for each bound event receiver, and every remote-control broadcast a
file for each worker mailbox. Live receivers read and delete theirs within a second; a receiver
that died without unbinding (a console or Flower that was killed, a SIGKILLed worker's mailbox)
would collect files forever. The worker's pruning (`prune_stale`, every `PRUNE_INTERVAL`) is
what keeps the folder bounded, so this test runs a week of it: every 5 simulated minutes one
worker's heartbeats (every 2 s) and a few tasks' events are published by kombu itself, a live
receiver drains its queue, the console's broadcasts reach the live and the dead mailboxes, one
receiver and one worker mailbox are abandoned every simulated day, and `prune_stale` runs with
the simulated time as its clock (messages are given their simulated age with `os.utime`).

Publishing a whole week at full density (about 460,000 messages) takes many minutes, so by
default each published message stands for `SCALE` real ones; `FLASKER_BROKER_WEEK_SCALE=1`
runs the full week (the README's figure comes from that run).
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from flasker._fsbroker import DEFAULT_MAX_AGE, BrokerFolders, _queue_of, prune_stale
from flasker._serve import PRUNE_INTERVAL, prune_embedded_state

from ._project_helpers import models_source, unique

pytestmark = [pytest.mark.faults]

SCALE = int(os.environ.get("FLASKER_BROKER_WEEK_SCALE", "30"))
#: Only to see the test fail: FLASKER_BROKER_WEEK_PRUNING=0 leaves the pruning out.
PRUNING = os.environ.get("FLASKER_BROKER_WEEK_PRUNING", "1") != "0"
DAYS = 7
CYCLES_PER_DAY = int(24 * 3600 / PRUNE_INTERVAL)
#: One worker's heartbeats (every 2 s) in one pruning interval, and its task events: 20 tasks
#: every 5 minutes, each sent/received/started/succeeded.
HEARTBEATS_PER_CYCLE = int(PRUNE_INTERVAL / 2)
TASK_EVENTS_PER_CYCLE = 20 * 4
#: The console polls its workers table every 3 s while an operator keeps it open (an hour a
#: day, spread over the day here): three broadcasts a poll.
BROADCASTS_PER_CYCLE = int(3 * 3600 / 3 / CYCLES_PER_DAY)


@dataclass
class Sample:
    day: int
    files: int
    size: int
    bindings: int


def _folder_size(root: Path) -> tuple[int, int]:
    files = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            files += 1
            size += os.stat(os.path.join(folder, name)).st_size
    return files, size


def _bindings(folders: BrokerFolders) -> int:
    import json

    return sum(
        len(json.loads(table.read_text() or "[]")) for table in folders.control.glob("*.exchange")
    )


def _age_new_files(folder: Path, simulated_now: float, horizon: float) -> None:
    """Give every file written in real time (mtime after the simulated week) its simulated
    time, so `prune_stale` judges it by the simulated clock."""
    for entry in os.scandir(folder):
        if entry.stat().st_mtime > horizon:
            os.utime(entry.path, (simulated_now, simulated_now))


def test_a_week_of_heartbeats_events_and_dead_receivers_stays_bounded(tmp_path: Path) -> None:
    folders = BrokerFolders(tmp_path / ".flasker")
    folders.create()
    settings = folders.celery_settings()
    events = Exchange("celeryev", type="topic")
    pidbox = Exchange("celery.pidbox", type="fanout")
    heartbeats = max(1, HEARTBEATS_PER_CYCLE // SCALE)
    task_events = max(1, TASK_EVENTS_PER_CYCLE // SCALE)
    broadcasts = max(1, BROADCASTS_PER_CYCLE // SCALE)

    # The simulated week ends an hour before now, so a file with a later mtime is a new one.
    horizon = time.time() - 3600
    start = horizon - DAYS * 24 * 3600
    samples: list[Sample] = []
    published = 0
    with Connection(
        settings["broker_url"],
        transport=settings["broker_transport"],
        transport_options=settings["broker_transport_options"],
    ) as connection:
        channel = connection.default_channel
        live = Queue("celeryev.console-live", events, routing_key="#")(channel)
        live.declare()
        mailbox = Queue("worker@live.celery.pidbox", pidbox)(channel)
        mailbox.declare()
        with connection.Producer() as producer:
            for day in range(DAYS):
                # every day a console is killed (its receiver stays bound) and a worker is
                # SIGKILLed and started again (its mailbox stays bound)
                Queue(f"celeryev.{uuid.uuid4()}", events, routing_key="#")(channel).declare()
                Queue(f"w{day}@gone.celery.pidbox", pidbox)(channel).declare()
                for cycle in range(CYCLES_PER_DAY):
                    now = start + (day * CYCLES_PER_DAY + cycle + 1) * PRUNE_INTERVAL
                    for number in range(heartbeats):
                        producer.publish(
                            {"type": "worker-heartbeat", "n": number, "freq": 2.0},
                            exchange=events,
                            routing_key="worker.heartbeat",
                            serializer="json",
                        )
                    for number in range(task_events):
                        producer.publish(
                            {"type": "task-succeeded", "uuid": str(uuid.uuid4()), "n": number},
                            exchange=events,
                            routing_key="task.succeeded",
                            serializer="json",
                        )
                    for _ in range(broadcasts):
                        producer.publish(
                            {"method": "stats", "arguments": {}},
                            exchange=pidbox,
                            routing_key="",
                            serializer="json",
                        )
                    published += heartbeats + task_events + broadcasts
                    # the live receiver and the live worker read theirs (within a second)
                    live.purge()
                    mailbox.purge()
                    _age_new_files(folders.queue, now, horizon)
                    # the folder at its fullest: just before the worker prunes it
                    files, size = _folder_size(folders.root / "broker")
                    samples.append(Sample(day, files, size, _bindings(folders)))
                    if PRUNING:
                        prune_stale(folders, now=now)

    by_day = {
        day: max((s for s in samples if s.day == day), key=lambda s: s.size) for day in range(DAYS)
    }
    report = "\n".join(
        f"day {day + 1}: at most {sample.files} files, {sample.size / 1024:.1f} KiB, "
        f"{sample.bindings} bindings"
        for day, sample in by_day.items()
    )
    print(f"\n{published} messages published, each standing for {SCALE}\n{report}")

    # Bounded: the last day's peak is no larger than the first day's, although six more dead
    # receivers and mailboxes were abandoned along the way.
    assert by_day[DAYS - 1].size <= by_day[0].size * 1.1 + 4096, report
    assert by_day[DAYS - 1].files <= by_day[0].files + 4, report
    # What is left at the end: the live bindings and the files of the receivers abandoned
    # less than `DEFAULT_MAX_AGE` ago; nothing of the days before.
    live_queues = {"celeryev.console-live", "worker@live.celery.pidbox"}
    leftover = [p.name for p in folders.queue.iterdir() if _queue_of(p.name) not in live_queues]
    expected_at_most = (heartbeats + task_events + broadcasts) * (
        1 + int(DEFAULT_MAX_AGE // PRUNE_INTERVAL)
    )
    assert len(leftover) <= expected_at_most * 2, leftover[:10]
    # The seven abandoned event receivers and mailboxes were unbound (at most today's remain).
    assert by_day[DAYS - 1].bindings <= 2 + 2 + 4, report


def test_the_embedded_worker_deletes_results_older_than_result_expires(make_project) -> None:
    """A week of tasks must not leave a week of rows in `.flasker/results.sqlite`: the embedded
    worker's pruning deletes results past `result_expires` (Celery would only do it from beat,
    which the embedded worker does not run)."""
    import sqlalchemy as sa

    module = unique("tasks")
    project = make_project(
        f"[PROJECT]\nNAME = results\nMODULES = {module}\n", {module: models_source()}
    )
    backend = project.celery.backend
    for task_id in ("old-1", "old-2", "fresh"):
        backend.store_result(task_id, {"n": 1}, "SUCCESS")
    engine = sa.create_engine(project.celery.conf.result_backend.removeprefix("db+"))
    a_week_ago = datetime.now(UTC) - timedelta(days=7)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE celery_taskmeta SET date_done = :when WHERE task_id LIKE 'old-%'"),
            {"when": a_week_ago.replace(tzinfo=None)},
        )

    prune_embedded_state(project)

    with engine.connect() as connection:
        left = set(connection.scalars(sa.text("SELECT task_id FROM celery_taskmeta")))
    engine.dispose()
    assert "fresh" in left
    assert not {"old-1", "old-2"} & left
