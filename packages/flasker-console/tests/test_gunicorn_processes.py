"""`flasker server --prod -w 2`: two gunicorn processes each keep their own live state, and the
database is written once per fact, not once per process.

The project (the console mounted, no sign-in: its local mode) runs on PostgreSQL and Redis with
one real `flasker worker` and `flasker server --prod -w 2` (gunicorn, what production runs:
preloaded app, 2 gthread processes; `flasker server` offers no sync worker class). Every
gunicorn process starts its own events listener on its first console request, and every
listener hears every event. The test:

1. asks console pages until both processes have answered with their listener connected (which
   process answered is read off the kernel: the pid whose file descriptors hold the server's
   end of the test's keep-alive connection, from /proc; no debug endpoint);
2. sends `TASKS` tasks, one in `FAIL_EVERY` raising, each running `RUN` seconds;
3. checks that each process, asked by pid, lists every task in the history with its final
   state, and that its workers table counts every failure: that count is the process's own
   live state (live.py), fed only by its own listener;
4. checks the tables: one row per (task id, state) in `flasker_console_task_events`, one row
   per task in `flasker_console_task_history`;
5. stops the server and the worker (a PostgreSQL backend flushes its statistics when it
   exits, so nothing waits on the 10 s idle flush) and reads `pg_stat_user_tables`.

What PostgreSQL counts (checked on 15.20, this machine's, before writing the assertions):
`INSERT ... ON CONFLICT DO NOTHING` adds nothing to `n_tup_ins` for a row it skips, also when
it first waited for another transaction's uncommitted copy of the row; a row it writes counts
1. A row written by a transaction that rolls back (a deadlock, a retried flush) still counts.
When two inserts of the same key pass the conflict pre-check together, the loser's
speculative row counts 1 in `n_tup_ins` and 1 in `n_tup_del` (heapam.c,
`heap_abort_speculative`): here both processes flush the same batch at the same moment, and
0 to 11 of the 60 facts went that way in 15 runs. `ON CONFLICT DO UPDATE` that finds the row
counts 1 in `n_tup_upd` and nothing in `n_tup_ins`. Nothing here is purged (rows are minutes
old), so `n_tup_del` counts only such race losers, and `n_tup_ins - n_tup_del` is the rows
written.

So, with F the facts (3 per task: received, started, succeeded or failed):
- task events: `n_tup_ins - n_tup_del == F` (every insert beyond the facts is a race loser,
  undone at once), far from the `PROCESSES x F` of each process writing every fact;
- task history: `n_tup_ins - n_tup_del == TASKS`, and the updates stay under
  `(PROCESSES - 1) x TASKS`. Only the process that stored a fact first writes its history,
  so a task is updated only when its facts were stored in more than one batch; if each
  process wrote the history of every fact it heard, every task would be written by each
  process, once as the insert and at least once more per other process as an update:
  `(PROCESSES - 1) x TASKS` updates at the least. A task runs `RUN` s and the worker sends its
  received and started events together, then its end; a listener writes once a final event
  waits, so a task's three facts mostly go out in one batch (measured: 0 updates in 15
  runs). Every write also follows from a fact stored first: writes <= F.

The figures are printed (`-s` shows them).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flasker.testing import LiveServer, ServerFailed, log_tail, wait_for, worker_process

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

#: Tasks sent, and one in how many raises.
TASKS = 20
FAIL_EVERY = 4
FAILING = len(range(0, TASKS, FAIL_EVERY))
#: Seconds each task runs: the tasks' events reach the listeners one task after another.
RUN = 0.2
#: gunicorn processes.
PROCESSES = 2
#: A worker or server needs a few seconds to import Celery and the project; CI is slower.
START = 60.0
EVENTS_TABLE = "flasker_console_task_events"
HISTORY_TABLE = "flasker_console_task_history"
HOSTNAME = "gunicorn-processes@test"
SECRET_KEY = "gunicorn-processes-test-secret-key-0123456789"

CFG = """\
[PROJECT]
NAME = GunicornProcesses
MODULES = gunicorn_processes_site
DB_URL = {db_url}

[APP]
SECRET_KEY = {secret}

[CELERY]
broker_url = {redis}
result_backend = {redis}
"""

SITE = '''\
"""The console, and one task that fails when asked to."""

import time

from flasker import current_project
from flasker_console import ConsoleManager

celery = current_project.celery
console = current_project.register_manager(ConsoleManager())


@celery.task(name="site.work")
def work(number: int, fail: bool = False) -> int:
    time.sleep({run})
    if fail:
        raise ValueError(f"task {{number}} was told to fail")
    return number
'''


# -- which gunicorn process answered ----------------------------------------------------------
def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers, under its master)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry))
    return found


def socket_inode(server_port: int, client_port: int) -> str | None:
    """The inode of the server's end of the TCP connection from `client_port` (/proc/net/tcp:
    local address, remote address, ..., inode in field 10; ports in hex)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if int(local.rsplit(":", 1)[1], 16) == server_port and (
                    int(remote.rsplit(":", 1)[1], 16) == client_port
                ):
                    return fields[9]
    return None


def holder(pids: list[int], inode: str) -> int | None:
    """Which of `pids` has a file descriptor on socket `inode`."""
    target = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


@dataclass
class Answer:
    pid: int | None
    status: int
    text: str


def ask(server: LiveServer, path: str) -> Answer:
    """GET `path` as htmx does, on a keep-alive connection of its own, and say which gunicorn
    process answered: the one holding the connection once the answer is read (gunicorn keeps
    it open for its `keepalive`, 2 s)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers={"HX-Request": "true"})
        response = connection.getresponse()
        text = response.read().decode()
        pid = None
        if connection.sock is not None:
            inode = socket_inode(server.port, connection.sock.getsockname()[1])
            if inode is not None:
                pid = holder(children(server.process.pid), inode)
        return Answer(pid, response.status, text)
    finally:
        connection.close()


def ask_each(server: LiveServer, path: str, pids: set[int], tries: int = 200) -> dict[int, str]:
    """`path` as each process of `pids` answers it (asking until each has answered once)."""
    answers: dict[int, str] = {}
    for _ in range(tries):
        answer = ask(server, path)
        assert answer.status == 200, (path, answer.status, answer.text[:500])
        if answer.pid in pids:
            answers.setdefault(answer.pid, answer.text)
        if set(answers) == pids:
            return answers
    pytest.fail(f"{tries} requests for {path} reached only {sorted(answers)} of {sorted(pids)}")


# -- what each process shows ------------------------------------------------------------------
def listening(text: str) -> bool:
    return 'data-testid="listener-state" data-state="listening"' in text


def history_states(text: str) -> dict[str, str]:
    """Task id → state, as the history table lists them."""
    return dict(re.findall(r'data-testid="history-([^"]+)" data-state="(\w+)"', text))


def failed_count(text: str) -> int | None:
    row = re.search(rf'data-testid="worker" data-hostname="{re.escape(HOSTNAME)}"[^>]*', text)
    found = row and re.search(r'data-failed="(\d+)"', row.group(0))
    return int(found.group(1)) if found else None


# -- the database -----------------------------------------------------------------------------
@pytest.fixture
def engine(postgres_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def rows(engine: sa.Engine, sql: str) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.exec_driver_sql(sql)]


def scalar(engine: sa.Engine, sql: str) -> int:
    return int(rows(engine, sql)[0][0])


def stored(engine: sa.Engine) -> tuple[int, int]:
    """Facts stored, and tasks in the history that reached their end (0, 0 before the
    listeners made the tables)."""
    made = (
        f"to_regclass('{EVENTS_TABLE}') IS NOT NULL AND to_regclass('{HISTORY_TABLE}') IS NOT NULL"
    )
    if not rows(engine, f"SELECT {made}")[0][0]:
        return 0, 0
    facts = scalar(engine, f"SELECT count(*) FROM {EVENTS_TABLE}")
    ended = scalar(
        engine, f"SELECT count(*) FROM {HISTORY_TABLE} WHERE state IN ('SUCCESS', 'FAILURE')"
    )
    return facts, ended


@dataclass
class Written:
    """What `pg_stat_user_tables` counted for a table (see the docstring)."""

    inserted: int
    updated: int
    deleted: int


def written(engine: sa.Engine, table: str) -> Written:
    found = rows(
        engine,
        "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
        f"WHERE relname = '{table}'",
    )
    assert found, f"no statistics for {table}"
    return Written(*(int(value) for value in found[0]))


def others_connected(engine: sa.Engine) -> int:
    """Backends on this database besides the test's own (the server's and the worker's)."""
    return scalar(
        engine,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )


# -- the test ---------------------------------------------------------------------------------
def test_two_gunicorn_processes_each_hear_every_task_and_write_each_fact_once(
    tmp_path: Path, postgres_url: str, redis_url: str, engine: sa.Engine
) -> None:
    from celery import Celery

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "gunicorn_processes_site.py").write_text(SITE.format(run=RUN), encoding="utf-8")
    cfg = folder / "default.cfg"
    cfg.write_text(
        CFG.format(db_url=postgres_url, secret=SECRET_KEY, redis=redis_url), encoding="utf-8"
    )
    worker_log = tmp_path / "worker.log"
    server = LiveServer(cfg, "--prod", "-w", str(PROCESSES), log=tmp_path / "server.log")
    with contextlib.ExitStack() as stack:
        worker = stack.enter_context(worker_process(cfg, worker_log, "-n", HOSTNAME))
        try:
            server.start(START)
        except ServerFailed as error:
            pytest.fail(str(error), pytrace=False)
        stack.callback(server.stop)
        pids = set(
            wait_for(
                lambda: (
                    len(children(server.process.pid)) == PROCESSES and children(server.process.pid)
                ),
                START,
                what=f"{PROCESSES} gunicorn processes",
                log=server.log,
            )
        )

        # 1. each process answers, its own listener connected (started by its first request)
        wait_for(
            lambda: all(
                listening(text)
                for text in ask_each(server, "/console/overview/tasks", pids).values()
            ),
            START,
            what="both processes' events listeners",
            log=server.log,
        )
        wait_for(
            lambda: all(
                failed_count(text) == 0
                for text in ask_each(server, "/console/workers/table", pids).values()
            ),
            START,
            what="the worker in both processes' workers tables",
            log=worker_log,
        )

        # 2. the tasks, sent as any other program of the project would
        with Celery("gunicorn-processes-test", broker=redis_url, set_as_current=False) as sender:
            ids = [
                sender.send_task("site.work", (n,), {"fail": n % FAIL_EVERY == 0}).id
                for n in range(TASKS)
            ]
        ends = {
            task_id: "FAILURE" if n % FAIL_EVERY == 0 else "SUCCESS"
            for n, task_id in enumerate(ids)
        }
        facts = 3 * TASKS
        wait_for(
            lambda: stored(engine) == (facts, TASKS),
            START,
            what=f"{facts} facts and {TASKS} ended tasks stored (have {stored(engine)})",
            log=server.log,
        )

        # 3. each process shows every task, and its own live state heard every failure
        def each_lists_every_task() -> bool:
            pages = ask_each(server, "/console/tasks/history?limit=100", pids)
            return all(history_states(text) == ends for text in pages.values())

        wait_for(each_lists_every_task, 20, what="every task in each process's history")
        wait_for(
            lambda: all(
                failed_count(text) == FAILING
                for text in ask_each(server, "/console/workers/table", pids).values()
            ),
            20,
            what=f"{FAILING} failures in each process's live state",
            log=server.log,
        )
        assert worker.poll() is None, log_tail(worker_log)

        # 4. each fact once, each task once
        per_fact = rows(
            engine,
            f"SELECT task_id, state, count(*) FROM {EVENTS_TABLE} GROUP BY task_id, state",
        )
        assert {(task_id, state) for task_id, state, _ in per_fact} == {
            (task_id, state)
            for task_id, end in ends.items()
            for state in ("RECEIVED", "STARTED", end)
        }
        assert {count for _, _, count in per_fact} == {1}
        history = rows(engine, f"SELECT task_id, state FROM {HISTORY_TABLE}")
        assert sorted(history) == sorted(ends.items())
        # the two listeners creating the console's tables at once: no failed write
        # (_lazy_table.py takes the table the other process made)
        assert "cannot store task events" not in server.log.read_text(), log_tail(server.log)

    # 5. everything stopped: each backend flushed its statistics as it exited
    wait_for(lambda: others_connected(engine) == 0, 30, what="the server's backends to exit")
    events, tasks = written(engine, EVENTS_TABLE), written(engine, HISTORY_TABLE)
    print(
        f"\n{PROCESSES} gunicorn processes, {TASKS} tasks, {facts} facts: task events "
        f"inserted {events.inserted} (deleted {events.deleted}: race losers), updated "
        f"{events.updated}; task history inserted {tasks.inserted} (deleted {tasks.deleted}), "
        f"updated {tasks.updated}: {tasks.inserted - tasks.deleted + tasks.updated} writes"
    )
    # task events: each fact inserted once, whichever process stored it
    assert events.inserted - events.deleted == facts
    assert events.inserted < PROCESSES * facts
    assert events.updated == 0
    # task history: one insert per task; updates not multiplied by the processes
    assert tasks.inserted - tasks.deleted == TASKS
    assert tasks.updated < (PROCESSES - 1) * TASKS
    assert tasks.inserted - tasks.deleted + tasks.updated <= facts
