"""The embedded broker's clean-up: `prune_stale` unbinds abandoned event and mailbox queues and
deletes the messages piled up for them, and never touches a task queue.

The broker files are written by kombu itself (its `filesystem://` transport), exactly as a
worker and an event receiver write them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from kombu import Connection, Exchange, Queue

from flasker._fsbroker import (
    BrokerFolders,
    Claim,
    is_transient_queue,
    prune_stale,
    recover_unacked,
)


@pytest.fixture
def folders(tmp_path: Path) -> BrokerFolders:
    folders = BrokerFolders(tmp_path / ".flasker")
    folders.create()
    return folders


def _connection(folders: BrokerFolders) -> Connection:
    """A connection configured exactly as the project's Celery app configures its broker."""
    settings = folders.celery_settings()
    return Connection(
        settings["broker_url"],
        transport=settings["broker_transport"],
        transport_options=settings["broker_transport_options"],
    )


def _publish(connection: Connection, exchange: Exchange, routing_key: str, count: int) -> None:
    with connection.Producer() as producer:
        for number in range(count):
            producer.publish(
                {"n": number}, exchange=exchange, routing_key=routing_key, serializer="json"
            )


def _messages(folders: BrokerFolders, queue: str) -> list[Path]:
    return [p for p in folders.queue.iterdir() if p.name.endswith(f".{queue}.msg")]


def _age(paths: list[Path], seconds: float) -> None:
    then = time.time() - seconds
    for path in paths:
        os.utime(path, (then, then))


def _bound_queues(folders: BrokerFolders, exchange: str) -> list[str]:
    table = json.loads((folders.control / f"{exchange}.exchange").read_text())
    return sorted(binding[2] for binding in table)


@pytest.fixture
def broker(folders: BrokerFolders):
    """A task queue with waiting tasks, and the events exchange with a live and a dead receiver
    and a dead worker mailbox: all as kombu lays them out on disk."""
    events = Exchange("celeryev", type="topic")
    pidbox = Exchange("celery.pidbox", type="fanout")
    tasks = Exchange("celery", type="direct")
    with _connection(folders) as connection:
        channel = connection.default_channel
        for queue in (
            Queue("celery", tasks, routing_key="celery"),
            Queue("celeryev.live", events, routing_key="#"),
            Queue("celeryev.dead", events, routing_key="#"),
            Queue("w1@gone.celery.pidbox", pidbox),
        ):
            queue(channel).declare()
        _publish(connection, tasks, "celery", 2)
        _publish(connection, events, "worker.heartbeat", 3)
        _publish(connection, pidbox, "", 1)
    _age(_messages(folders, "celery"), 3600)  # tasks wait for a worker on purpose
    _age(_messages(folders, "celeryev.dead"), 600)
    _age(_messages(folders, "w1@gone.celery.pidbox"), 600)
    return folders


def test_kombu_wrote_what_prune_expects(broker: BrokerFolders) -> None:
    assert _bound_queues(broker, "celeryev") == ["celeryev.dead", "celeryev.live"]
    assert len(_messages(broker, "celeryev.dead")) == 3
    assert len(_messages(broker, "celeryev.live")) == 3
    assert len(_messages(broker, "celery")) == 2


def test_prune_removes_stale_bindings_and_their_messages(broker: BrokerFolders) -> None:
    report = prune_stale(broker, max_age=120)
    assert sorted(report.unbound) == ["celeryev.dead", "w1@gone.celery.pidbox"]
    assert report.removed_messages == 4
    assert _bound_queues(broker, "celeryev") == ["celeryev.live"]
    assert _bound_queues(broker, "celery.pidbox") == []
    assert _messages(broker, "celeryev.dead") == []
    assert _messages(broker, "w1@gone.celery.pidbox") == []
    # a live receiver and the waiting tasks are left alone
    assert len(_messages(broker, "celeryev.live")) == 3
    assert len(_messages(broker, "celery")) == 2


def test_after_pruning_new_events_reach_only_live_receivers(broker: BrokerFolders) -> None:
    prune_stale(broker, max_age=120)
    events = Exchange("celeryev", type="topic")
    with _connection(broker) as connection:
        with connection.Producer() as producer:
            producer.publish({"after": "prune"}, exchange=events, routing_key="worker.heartbeat")
        # kombu still reads the table it shares with prune_stale
        live = Queue("celeryev.live", events, routing_key="#")
        received = []
        with connection.SimpleQueue(live) as queue:
            while len(received) < 4:
                message = queue.get(timeout=2)
                message.ack()
                received.append(message.payload)
    assert {"after": "prune"} in received
    assert _messages(broker, "celeryev.live") == []
    assert _messages(broker, "celeryev.dead") == []


def test_prune_is_idempotent_and_harmless_when_nothing_is_stale(broker: BrokerFolders) -> None:
    prune_stale(broker, max_age=120)
    again = prune_stale(broker, max_age=120)
    assert again.unbound == []
    assert again.removed_messages == 0
    assert len(_messages(broker, "celery")) == 2


def test_fresh_transient_queues_are_kept(broker: BrokerFolders) -> None:
    report = prune_stale(broker, max_age=3600 * 2)
    assert report.unbound == []
    assert len(_messages(broker, "celeryev.dead")) == 3


def test_old_task_messages_are_never_pruned(folders: BrokerFolders) -> None:
    with _connection(folders) as connection:
        exchange = Exchange("houses", type="direct")
        Queue("houses", exchange, routing_key="houses")(connection.default_channel).declare()
        _publish(connection, exchange, "houses", 3)
    _age(_messages(folders, "houses"), 86400 * 30)
    report = prune_stale(folders, max_age=1)
    assert report.unbound == []
    assert len(_messages(folders, "houses")) == 3


def test_prune_without_folders_or_with_a_foreign_table(tmp_path: Path) -> None:
    missing = BrokerFolders(tmp_path / "nothing")
    assert prune_stale(missing).unbound == []
    folders = BrokerFolders(tmp_path / "odd")
    folders.create()
    (folders.control / "celeryev.exchange").write_text("not json")
    message = folders.queue / "1_x.celeryev.dead.msg"
    message.write_text("{}")
    _age([message], 600)
    report = prune_stale(folders, max_age=1)
    # a table that is not JSON is damage (kombu could not use it either): emptied, not a crash
    assert json.loads((folders.control / "celeryev.exchange").read_text()) == []
    assert report.removed_messages == 1


@pytest.mark.parametrize(
    ("queue", "transient"),
    [
        ("celeryev.4f1c", True),
        ("w1@host.celery.pidbox", True),
        ("0b6c.reply.celery.pidbox", True),
        ("celery", False),
        ("houses", False),
        ("celeryevents", False),
    ],
)
def test_transient_queue_names(queue: str, transient: bool) -> None:
    assert is_transient_queue(queue) is transient


def test_two_brokers_in_one_process_each_get_their_bindings(tmp_path: Path) -> None:
    # kombu's own transport keeps bindings in one process-wide state: the second broker
    # folder never got its binding table, and its task messages were dropped
    exchange = Exchange("celery", type="direct")
    for name in ("first", "second"):
        folders = BrokerFolders(tmp_path / name)
        folders.create()
        with _connection(folders) as connection:
            Queue("celery", exchange, routing_key="celery")(connection.default_channel).declare()
            _publish(connection, exchange, "celery", 1)
        assert _bound_queues(folders, "celery") == ["celery"]
        assert len(_messages(folders, "celery")) == 1


#: One process binding a fanout queue at an agreed instant, as each inspect caller does.
BIND_AT_ONCE = """
import json, sys, time
from kombu import Connection, Exchange, Queue
settings, queue, start = json.loads(sys.argv[1]), sys.argv[2], float(sys.argv[3])
connection = Connection(
    settings["broker_url"],
    transport=settings["broker_transport"],
    transport_options=settings["broker_transport_options"],
)
time.sleep(max(0.0, start - time.time()))
with connection:
    Queue(queue, Exchange("race", type="fanout"), channel=connection.default_channel).declare()
"""


def test_bindings_made_at_once_by_many_processes_are_all_kept(folders: BrokerFolders) -> None:
    # kombu opened a new table with "wb", emptying it before taking the lock: two callers
    # binding at once left "[[A]] [B]]", and every later broadcast failed to parse the table
    # (the console's three inspect questions, each with its own reply queue, did this)
    import subprocess
    import sys

    settings = json.dumps(folders.celery_settings())
    start = str(time.time() + 3.0)
    names = [f"q{number}" for number in range(8)]
    processes = [
        subprocess.Popen([sys.executable, "-c", BIND_AT_ONCE, settings, name, start])
        for name in names
    ]
    assert [process.wait(60) for process in processes] == [0] * len(names)
    assert _bound_queues(folders, "race") == names


def test_a_torn_table_is_repaired_and_broadcasts_work_again(folders: BrokerFolders) -> None:
    table = folders.control / "race.exchange"
    table.write_text('[["", "", "alive"]] ["", "", "torn"]]')
    with _connection(folders) as connection:
        exchange = Exchange("race", type="fanout")
        Queue("fresh", exchange, channel=connection.default_channel).declare()
        assert _bound_queues(folders, "race") == ["alive", "fresh"]
        _publish(connection, exchange, "", 1)
    assert len(_messages(folders, "alive")) == 1
    assert len(_messages(folders, "fresh")) == 1


# -- a fetched message is not lost when its consumer dies -------------------------------------
TASKS = Exchange("tasks", type="direct")


def _task_queue(connection: Connection) -> Queue:
    queue = Queue("tasks", TASKS, routing_key="tasks")
    queue(connection.default_channel).declare()
    return queue


def _unacked_files(folders: BrokerFolders) -> list[str]:
    return sorted(
        path.name
        for path in folders.unacked.rglob("*")
        if path.is_file() and path.name.endswith(".msg")
    )


def _publish_tasks(folders: BrokerFolders, count: int) -> None:
    with _connection(folders) as connection:
        _task_queue(connection)
        _publish(connection, TASKS, "tasks", count)


#: A consumer in another process: fetches one message, says so, and waits to be killed.
FETCH_AND_HANG = """
import json, sys, time
from kombu import Connection, Exchange, Queue
settings = json.loads(sys.argv[1])
connection = Connection(
    settings["broker_url"],
    transport=settings["broker_transport"],
    transport_options=settings["broker_transport_options"],
)
queue = Queue("tasks", Exchange("tasks", type="direct"), routing_key="tasks")
with connection.SimpleQueue(queue) as simple:
    message = simple.get(timeout=10)
    print(json.dumps(message.payload), flush=True)
    time.sleep(120)
"""


def _hanging_consumer(folders: BrokerFolders):
    import subprocess
    import sys

    settings = json.dumps(folders.celery_settings())
    process = subprocess.Popen(
        [sys.executable, "-c", FETCH_AND_HANG, settings], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def test_a_fetched_message_waits_in_the_consumers_unacked_folder_until_acked(
    folders: BrokerFolders,
) -> None:
    # kombu deleted the file at fetch: a worker killed before acking lost the task
    _publish_tasks(folders, 1)
    with _connection(folders) as connection, connection.SimpleQueue(_task_queue(connection)) as q:
        message = q.get(timeout=2)
        assert _messages(folders, "tasks") == []
        assert len(_unacked_files(folders)) == 1
        message.ack()
        assert _unacked_files(folders) == []
    assert _messages(folders, "tasks") == []
    assert list(folders.unacked.iterdir()) == []  # the closed consumer's folder is gone


def test_messages_of_a_sigkilled_consumer_are_put_back_and_redelivered(
    folders: BrokerFolders,
) -> None:
    import signal

    _publish_tasks(folders, 2)
    process, payload = _hanging_consumer(folders)
    try:
        assert _unacked_files(folders) != []
        # a live consumer's messages are left alone, from this process too
        assert recover_unacked(folders.unacked, folders.queue) == 0
        assert len(_unacked_files(folders)) == 1
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process.stdout.close()
    with _connection(folders) as connection, connection.SimpleQueue(_task_queue(connection)) as q:
        first = q.get(timeout=2)  # the consumer's start put the dead one's message back first
        assert first.payload == payload
        assert first.delivery_info["redelivered"] is True
        first.ack()
        second = q.get(timeout=2)
        assert second.payload != payload
        second.ack()
    assert _messages(folders, "tasks") == []
    assert list(folders.unacked.iterdir()) == []


def test_reject_with_requeue_and_close_put_the_message_back_in_its_place(
    folders: BrokerFolders,
) -> None:
    _publish_tasks(folders, 3)
    with _connection(folders) as connection, connection.SimpleQueue(_task_queue(connection)) as q:
        first = q.get(timeout=2)
        first.reject(requeue=True)
        again = q.get(timeout=2)
        assert again.payload == first.payload  # back at the head of the line, not the tail
        assert again.delivery_info["redelivered"] is True
        q.get(timeout=2)  # fetched, never acknowledged
    # closing the channel put back both unacknowledged messages (no copies)
    assert len(_messages(folders, "tasks")) == 3
    assert _unacked_files(folders) == []


def test_reject_without_requeue_drops_the_message(folders: BrokerFolders) -> None:
    _publish_tasks(folders, 1)
    with _connection(folders) as connection, connection.SimpleQueue(_task_queue(connection)) as q:
        q.get(timeout=2).reject(requeue=False)
    assert _messages(folders, "tasks") == []
    assert _unacked_files(folders) == []


def test_no_ack_consumers_take_messages_at_once(folders: BrokerFolders) -> None:
    # replies, events and mailboxes are consumed with no_ack: nothing to hold back
    _publish_tasks(folders, 1)
    with _connection(folders) as connection:
        queue = _task_queue(connection)
        with connection.SimpleQueue(queue, no_ack=True) as q:
            q.get(timeout=2)
            assert _unacked_files(folders) == []
    assert _messages(folders, "tasks") == []
    assert [p.name for p in folders.queue.iterdir()] == []  # no hidden leftovers either


def test_a_forked_child_leaves_its_parents_claim_alone(folders: BrokerFolders) -> None:
    # a prefork pool process inherits the worker's channel: closing it there must neither
    # put back the parent's messages nor free the parent's lock
    _publish_tasks(folders, 1)
    with _connection(folders) as connection, connection.SimpleQueue(_task_queue(connection)) as q:
        message = q.get(timeout=2)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                connection.default_channel.close()
            finally:
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        assert len(_unacked_files(folders)) == 1
        assert recover_unacked(folders.unacked, folders.queue) == 0  # still locked
        message.ack()
    assert _messages(folders, "tasks") == []
    assert _unacked_files(folders) == []


def test_hidden_leftovers_are_pruned(folders: BrokerFolders) -> None:
    leftover = folders.queue / ".put-1_x.tasks.msg"
    leftover.write_text("{")
    _age([leftover], 600)
    report = prune_stale(folders, max_age=120)
    assert report.removed_leftovers == 1
    assert not leftover.exists()


# -- a damaged message file is set aside, not fetched again and again ---------------------------
@pytest.mark.parametrize("no_ack", [False, True])
@pytest.mark.parametrize("damage", ["truncated", "not a kombu message"])
def test_an_unreadable_message_is_set_aside_and_never_fetched_again(
    folders: BrokerFolders, caplog: pytest.LogCaptureFixture, no_ack: bool, damage: str
) -> None:
    # it raised ChannelError from the claim folder, went back to the queue on close, and
    # failed the next fetch the same way: one truncated file stalled every worker
    _publish_tasks(folders, 1)
    [good] = _messages(folders, "tasks")
    text = good.read_bytes()
    bad_name = "00000000000000000001_damaged.tasks.msg"  # first in line
    (folders.queue / bad_name).write_bytes(
        text[: len(text) // 2] if damage == "truncated" else b"[]"
    )
    with _connection(folders) as connection:
        queue = _task_queue(connection)
        with connection.SimpleQueue(queue, no_ack=no_ack) as q:
            message = q.get(timeout=2)
            assert message.payload == {"n": 0}
            if not no_ack:
                message.ack()
    assert [p.name for p in folders.bad.iterdir()] == [bad_name]
    assert bad_name in caplog.text
    assert [p.name for p in folders.queue.iterdir()] == []
    assert list(folders.unacked.iterdir()) == []
    # a restarted consumer finds nothing: the damaged file is not redelivered
    with (
        _connection(folders) as connection,
        connection.SimpleQueue(_task_queue(connection), no_ack=no_ack) as q,
        pytest.raises(q.Empty),
    ):
        q.get(timeout=0.5)
    assert [p.name for p in folders.bad.iterdir()] == [bad_name]  # kept for the operator


def test_a_put_back_interrupted_after_marking_leaves_one_copy(folders: BrokerFolders) -> None:
    # requeue wrote a copy into the queue, then unlinked the original: a crash between the
    # two left the message twice. Now the mark is made in the claim and the file moved once;
    # a consumer dead right after marking left its message in its folder, plus maybe the
    # staged copy, which is no message.
    _publish_tasks(folders, 1)
    [message] = _messages(folders, "tasks")
    dead = folders.unacked / "1-dead"
    dead.mkdir()
    (dead / ".lock").touch()  # unlocked: its owner is gone
    os.rename(message, dead / message.name)
    (dead / f".requeue-{message.name}").write_bytes((dead / message.name).read_bytes())
    assert recover_unacked(folders.unacked, folders.queue) == 1
    assert [p.name for p in folders.queue.iterdir()] == [message.name]
    assert list(folders.unacked.iterdir()) == []
    with _connection(folders) as connection, connection.SimpleQueue(_task_queue(connection)) as q:
        again = q.get(timeout=2)
        assert again.delivery_info["redelivered"] is True
        again.ack()
        with pytest.raises(q.Empty):
            q.get(timeout=0.5)


def test_a_failed_release_frees_the_lock_so_recovery_puts_the_files_back(
    folders: BrokerFolders, tmp_path: Path
) -> None:
    # release() skipped close() when putting back failed: the lock (and the messages with it)
    # stayed held until the process exited
    _publish_tasks(folders, 1)
    [message] = _messages(folders, "tasks")
    claim = Claim(folders.unacked)
    os.rename(message, claim.folder / message.name)
    not_a_folder = tmp_path / "file"
    not_a_folder.touch()
    with pytest.raises(NotADirectoryError):
        claim.release(not_a_folder)
    assert claim.fd is None
    assert recover_unacked(folders.unacked, folders.queue) == 1
    assert _messages(folders, "tasks") != []
    assert list(folders.unacked.iterdir()) == []


def test_message_names_sort_in_publishing_order_across_reboots(folders: BrokerFolders) -> None:
    # kombu's names start with unpadded time.monotonic() milliseconds: that clock restarts at
    # boot and gains digits with the uptime, so a put-back message lost its place in line
    before = time.time_ns()
    _publish_tasks(folders, 1)
    [message] = _messages(folders, "tasks")
    stamp, _, _rest = message.name.partition("_")
    assert len(stamp) == 20
    assert before <= int(stamp) <= time.time_ns()
