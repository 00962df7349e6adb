"""Real `flasker worker` subprocesses: on Redis with PostgreSQL (the distributed setup) and on
the embedded on-disk broker with SQLite (the default), each executing a task that writes a row
through `db.session`, which the test then reads back."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from celery.exceptions import TimeoutError as CeleryTimeout
from sqlalchemy import select

from flasker.testing import log_tail, worker_process

from ._project_helpers import models_source, unique

pytestmark = pytest.mark.slow

#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
TASK_TIMEOUT = 45


def _addresses(project, module) -> list[str]:
    with project.db.Session() as session:
        return sorted(session.scalars(select(module.House.address)))


def _result(result, log: Path, **kwargs):
    try:
        return result.get(timeout=TASK_TIMEOUT, **kwargs)
    except CeleryTimeout:  # pragma: no cover - shows why the worker did not answer
        pytest.fail(f"no result within {TASK_TIMEOUT}s; worker log:\n{log_tail(log)}")


@pytest.mark.redis
@pytest.mark.postgres
def test_worker_on_redis_writes_through_db_session(
    make_project, tmp_path: Path, redis_url: str, postgres_url: str
) -> None:
    module, queue = unique("redis_tasks"), unique("queue")
    hostname = f"{queue}@localhost"
    project = make_project(
        f"""
        [PROJECT]
        NAME = distributed
        MODULES = {module}
        DB_URL = {postgres_url}

        [CELERY]
        BROKER_URL = {redis_url}
        result_backend = {redis_url}
        # a queue and a worker name of its own: other test runs may share this Redis
        task_default_queue = {queue}
        """,
        {module: models_source()},
    )
    tasks = sys.modules[module]
    log = tmp_path / "worker.log"
    with worker_process(project.config.path, log, "--concurrency", "1", "-n", hostname) as worker:
        assert _result(tasks.add_house_task.delay("1 Main St"), log) == 1
        assert _addresses(project, tasks) == ["1 Main St"]

        failed = tasks.add_house_task.delay("doomed", fail=True)
        with pytest.raises(ValueError, match="task failed on purpose"):
            _result(failed, log)
        assert failed.status == "FAILURE"
        assert _addresses(project, tasks) == ["1 Main St"]  # rolled back in the worker

        replies = project.celery.control.ping(timeout=5, destination=[hostname])
        assert replies == [{hostname: {"ok": "pong"}}]
        assert worker.poll() is None
    assert worker.returncode is not None
    assert "Connected to redis://" in log.read_text()


def test_worker_on_the_embedded_broker(make_project, tmp_path: Path) -> None:
    module = unique("embedded_tasks")
    project = make_project(
        f"[PROJECT]\nNAME = embedded\nMODULES = {module}\n", {module: models_source()}
    )
    tasks = sys.modules[module]
    log = tmp_path / "worker.log"
    assert project.config.is_embedded_broker
    with worker_process(project.config.path, log, "--concurrency", "1") as worker:
        result = tasks.add_house_task.delay("on disk")
        assert _result(result, log) == 1
        assert result.status == "SUCCESS"
        assert _addresses(project, tasks) == ["on disk"]
        # the result came through the SQLite result store in the project folder
        assert (tmp_path / ".flasker" / "results.sqlite").is_file()
        # remote control works on the embedded broker: ping, registered tasks
        inspect = project.celery.control.inspect(timeout=10, limit=1)
        ping = inspect.ping()
        assert ping is not None, log_tail(log)
        (name,) = ping
        assert ping[name] == {"ok": "pong"}
        registered = project.celery.control.inspect(timeout=10, destination=[name]).registered()
        assert {"add_house", "count_houses"} <= set(registered[name])
        assert worker.poll() is None
    # the task message was consumed: no task file is left in the queue folder
    queue = tmp_path / ".flasker" / "broker" / "queue"
    assert [p.name for p in queue.iterdir() if p.name.endswith(".celery.msg")] == []
