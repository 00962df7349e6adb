"""No task is lost when a worker is SIGKILLed: on Redis, RabbitMQ and the embedded on-disk broker.

200 short tasks are queued, a real `flasker worker` (prefork, two pool processes) runs part of
them and is then killed without warning, and the tasks must all run anyway. Each execution of
the task inserts a row (committed before the task's work starts) and marks it finished at the
end, so the database tells which tasks ran, which finished, and which ran more than once:

- lost: a task with no finished run. Must be 0.
- duplicates: runs beyond the first of a task. Allowed (at-least-once delivery), counted and
  printed, since the promise is "nothing lost", not "exactly once".

Two faults:

- `group`: the worker's whole process group (main process and pool processes) is SIGKILLed,
  as the OOM killer or a pulled plug would, and a new worker is started. What was fetched but
  not acknowledged must come back. RabbitMQ gives a dead connection's unacknowledged messages
  back at once. On Redis kombu re-queues a message that a dead consumer
  left unacknowledged only once it is older than `visibility_timeout` (kombu's default is an
  hour), when some live worker sweeps the unacked index: at its consumer's start and every
  `unacked_restore_interval` x `unacked_restore_throttle` seconds (10 x 10 by default). The
  test lowers all three so the sweep happens within seconds. On the embedded broker a message
  fetched by a worker sits in that consumer's `unacked` folder until it is acknowledged, and
  a consumer that starts puts back the folders of consumers that died (`_fsbroker`).
- `child`: one pool process is SIGKILLed while it runs a task; the worker's main process
  survives, sees `WorkerLostError` and, with `task_reject_on_worker_lost`, re-queues the
  message at once. The killed task is the "slow" one, which holds on (only on its first run)
  until the test has killed its process, so the kill always lands mid-task.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from flasker.testing import log_tail, wait_for, worker_process

from ._project_helpers import unique

pytestmark = [pytest.mark.faults, pytest.mark.slow]

TASKS = 200
#: Seconds each task works: long enough that the kill finds tasks half done.
DURATION = 0.05
#: The task that is running when its pool process is killed (the `child` fault).
SLOW = 17
#: kombu's Redis transport: re-queue a dead consumer's messages 4 s after they were fetched,
#: sweeping every second. The defaults (3600 s, 10 x 10 s) would make this test take an hour.
REDIS_OPTIONS = (
    '{"visibility_timeout": 4, "unacked_restore_interval": 1, "unacked_restore_throttle": 1}'
)
#: Starting a worker (Celery, the project, the pool) takes a few seconds, more on CI.
START = 60


def tasks_source() -> str:
    return f"""
        import os
        import time

        from sqlalchemy import Boolean, Column, Integer, func, select

        from flasker import current_project
        from flasker.util import Model

        celery = current_project.celery
        db = current_project.db


        class Run(Model):
            id = Column(Integer, primary_key=True)
            number = Column(Integer, nullable=False, index=True)
            pid = Column(Integer, nullable=False)
            finished = Column(Boolean, nullable=False, default=False)


        # retried 1 s after its pool process was lost (Celery's default delay is 180 s)
        @celery.task(name="record_run", default_retry_delay=1)
        def record_run(number):
            run = Run(number=number, pid=os.getpid())
            db.session.add(run)
            db.session.commit()  # the run is on record even if the process dies now
            runs = db.session.scalar(
                select(func.count()).select_from(Run).where(Run.number == number)
            )
            if number == {SLOW} and runs == 1:
                time.sleep(60)  # the test kills this process long before
            time.sleep({DURATION})
            run.finished = True  # committed when the task returns
            return number


        @celery.task(name="poison", default_retry_delay=0, max_retries=2)
        def poison():
            db.session.add(Run(number=-1, pid=os.getpid()))
            db.session.commit()
            os.kill(os.getpid(), 9)  # as a segfault or the OOM killer would, every time
    """


class Ledger:
    """What the runs table says about the tasks."""

    def __init__(self, project, module) -> None:
        self.project = project
        self.Run = module.Run

    def _scalar(self, query):
        with self.project.db.Session() as session:
            return session.scalar(query)

    def finished(self) -> int:
        """Tasks with at least one finished run."""
        run = self.Run
        return self._scalar(select(func.count(func.distinct(run.number))).where(run.finished))

    def runs(self) -> int:
        return self._scalar(select(func.count()).select_from(self.Run))

    def lost(self) -> list[int]:
        run = self.Run
        with self.project.db.Session() as session:
            done = set(session.scalars(select(run.number).where(run.finished)))
        return sorted(set(range(TASKS)) - done)

    def duplicates(self) -> int:
        """Runs beyond the first of each task."""
        run = self.Run
        return self.runs() - self._scalar(select(func.count(func.distinct(run.number))))

    def running_slow(self) -> int | None:
        """The pid of the process running the slow task's first run."""
        run = self.Run
        query = select(run.pid).where(run.number == SLOW, run.finished.is_(False))
        return self._scalar(query.order_by(run.id).limit(1))


def queue_all(project, tasks) -> tuple[Ledger, float]:
    """Send the TASKS tasks (no worker runs yet); their ledger and when it began."""
    started = time.monotonic()
    for number in range(TASKS):
        tasks.record_run.delay(number)
    return Ledger(project, tasks), started


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return set()
    return {int(child) for child in text.split()}


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def setting(request, make_project, tmp_path: Path):
    """The project on the broker named by the test's parameter, with its runs ledger."""
    broker = request.param
    module, queue = unique("killed_tasks"), unique("queue")
    cfg = f"""
        [PROJECT]
        NAME = killed
        MODULES = {module}
        DB_URL = sqlite:///{tmp_path / "runs.sqlite"}

        [CELERY]
        # at-least-once is flasker's default: no task_acks_late etc. here
        task_default_queue = {queue}
        # report a lost pool process after 1 s, not 10
        worker_lost_wait = 1
    """
    if broker == "redis":
        redis_url = request.getfixturevalue("redis_url")
        cfg += f"""
        broker_url = {redis_url}
        result_backend = {redis_url}
        broker_transport_options = {REDIS_OPTIONS}
        """
    elif broker == "rabbitmq":
        # no result backend: the ledger is the database
        cfg += f"""
        broker_url = {request.getfixturevalue("rabbitmq_url")}
        """
    project = make_project(cfg, {module: tasks_source()})
    project.db.create_all()
    conf = project.celery.conf
    assert conf.task_acks_late is conf.task_reject_on_worker_lost is True
    assert project.config.is_embedded_broker == (broker == "embedded")
    yield broker, project, sys.modules[module]
    if broker == "rabbitmq":
        _delete_queue(project, queue)


def _delete_queue(project, queue: str) -> None:
    """A RabbitMQ queue outlives the test (durable): delete it, and its messages if any."""
    with project.celery.connection_for_write() as connection:
        connection.default_channel.queue_delete(queue)


BROKERS = pytest.mark.parametrize(
    "setting",
    [
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
        "embedded",
    ],
    indirect=True,
)


@BROKERS
def test_no_task_lost_when_the_worker_group_is_killed(setting, tmp_path: Path) -> None:
    broker, project, tasks = setting
    ledger, started = queue_all(project, tasks)

    first = tmp_path / "first.log"
    pool = ("--concurrency", "2", "-n", f"first-{broker}@%h")
    with worker_process(project.config.path, first, *pool, pool="prefork", new_session=True) as w:
        # part of the tasks done, the rest queued or fetched and half done
        wait_for(lambda: ledger.finished() >= TASKS // 4, START, what="a quarter done", log=first)
        os.killpg(w.pid, signal.SIGKILL)
        w.wait(10)
        wait_for(lambda: _group_gone(w.pid), 10, what="the killed pool processes to go")
    at_kill = ledger.finished()
    assert at_kill < TASKS, "the worker finished everything before the kill"

    second = tmp_path / "second.log"
    pool = ("--concurrency", "2", "-n", f"second-{broker}@%h")
    with worker_process(project.config.path, second, *pool, pool="prefork"):
        wait_for(lambda: ledger.finished() == TASKS, START, what="every task", log=second)
    took = time.monotonic() - started
    lost, duplicates = ledger.lost(), ledger.duplicates()
    print(
        f"\n{broker}, worker group SIGKILLed after {at_kill}/{TASKS} tasks: "
        f"lost {len(lost)}, duplicate runs {duplicates}, {took:.1f} s"
    )
    assert lost == []


@BROKERS
def test_no_task_lost_when_a_pool_process_is_killed(setting, tmp_path: Path) -> None:
    broker, project, tasks = setting
    ledger, started = queue_all(project, tasks)

    log = tmp_path / "worker.log"
    pool = ("--concurrency", "2", "-n", f"child-{broker}@%h")
    with worker_process(project.config.path, log, *pool, pool="prefork") as worker:
        child = wait_for(ledger.running_slow, START, what="the slow task to start", log=log)
        assert child in _children(worker.pid)
        os.kill(child, signal.SIGKILL)
        wait_for(lambda: ledger.finished() == TASKS, START, what="every task", log=log)
        assert worker.poll() is None, log_tail(log)  # the main process lived on
    took = time.monotonic() - started
    lost, duplicates = ledger.lost(), ledger.duplicates()
    print(
        f"\n{broker}, one pool process SIGKILLed mid-task: "
        f"lost {len(lost)}, duplicate runs {duplicates}, {took:.1f} s"
    )
    assert lost == []
    assert duplicates >= 1  # the killed run of the slow task was run again
    assert "WorkerLostError" in log.read_text()


@pytest.mark.parametrize("setting", ["embedded"], indirect=True)
def test_a_task_that_always_kills_its_process_fails_after_its_retries(
    setting, tmp_path: Path
) -> None:
    # the risk of at-least-once: a "poison" task re-queued forever. flasker's default
    # task_retry_on_worker_lost turns each loss into a retry, so it ends after max_retries.
    # (Celery's logic, the same on every broker. On Redis with this file's 4 s
    # visibility_timeout it ran 8 times, not 3: each message stayed unacknowledged longer than
    # that while the worker noticed its lost process, and was restored meanwhile. A
    # visibility_timeout shorter than a task's time unacknowledged means duplicates.)
    from celery.exceptions import WorkerLostError

    _broker, project, tasks = setting
    ledger = Ledger(project, tasks)
    log = tmp_path / "worker.log"
    with worker_process(project.config.path, log, "--concurrency", "1", pool="prefork") as w:
        result = tasks.poison.delay()
        wait_for(result.ready, START, what="the poison task to give up", log=log)
        assert w.poll() is None, log_tail(log)  # the worker lived through it
    assert result.state == "FAILURE"
    assert isinstance(result.result, WorkerLostError)
    assert ledger.runs() == 3  # the first run and max_retries=2 retries, then no more
