"""Messages a consumer had fetched when Redis crashed go back to their queue when it returns.

Found by the Redis-restart fault test (flasker-console's test_fault_redis_restart.py): a
worker's prefetched messages (and, with `task_acks_late`, the one it runs) sit in Redis's
`unacked` hash; when the connection dropped because Redis itself went down, kombu's restore
went over the dead connection and failed, so after the restart those tasks waited an hour
(`visibility_timeout`) while the rest of the queue ran. The worker's reconnection now puts
them back at once (`flasker._redis_transport`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection, Exchange, Queue

from flasker import Project, _redis_transport
from flasker.celery_app import REDIS_TRANSPORT
from flasker.testing import RedisServer

pytestmark = [pytest.mark.faults]

ROOT = Path(__file__).resolve().parents[3]
QUEUE = Queue("flasker-restore-test", Exchange("flasker-restore-test"), "work")
FETCHED = 3


@pytest.fixture
def redis_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, persistent (append-only, fsync always)."""
    if shutil.which("redis-server") is None:
        root_conftest = request.config.pluginmanager.get_plugin(str(ROOT / "conftest.py"))
        root_conftest.service_missing("redis-server (the program)", FileNotFoundError())
    with RedisServer(tmp_path / "redis") as server:
        yield server


def counts(server: RedisServer) -> tuple[int, int]:
    """(messages waiting in the queue, messages fetched and not acknowledged)."""
    with redis.Redis.from_url(server.url + "/0") as client:
        return client.llen(QUEUE.name), client.hlen("unacked")


def test_fetched_messages_come_back_after_redis_crashed(redis_server: RedisServer) -> None:
    url = redis_server.url + "/0"
    with Connection(url, transport=REDIS_TRANSPORT) as connection:
        producer = connection.Producer()
        for number in range(FETCHED + 2):
            producer.publish(
                {"n": number}, exchange=QUEUE.exchange, routing_key="work", declare=[QUEUE]
            )
    consumer = Connection(url, transport=REDIS_TRANSPORT)
    channel = consumer.channel()
    fetched = [QUEUE(channel).get(no_ack=False) for _ in range(FETCHED)]
    assert all(message is not None for message in fetched)
    assert counts(redis_server) == (2, FETCHED)

    redis_server.kill()
    consumer.release()  # kombu's restore meets the dead server
    assert _redis_transport.pending_restores() == FETCHED

    redis_server.start()  # same port, same data (the append-only file)
    assert counts(redis_server) == (2, FETCHED)  # before: waited an hour in `unacked`
    with Connection(url, transport=REDIS_TRANSPORT) as again:
        again.channel().close()  # the reconnection puts them back
    assert counts(redis_server) == (2 + FETCHED, 0)
    assert _redis_transport.pending_restores() == 0


def test_an_acknowledged_message_is_not_put_back(redis_server: RedisServer) -> None:
    """A message acknowledged between the failed restore and the reconnection (by another
    connection) stays done."""
    url = redis_server.url + "/0"
    with Connection(url, transport=REDIS_TRANSPORT) as connection:
        connection.Producer().publish(
            {"n": 1}, exchange=QUEUE.exchange, routing_key="work", declare=[QUEUE]
        )
    consumer = Connection(url, transport=REDIS_TRANSPORT)
    message = QUEUE(consumer.channel()).get(no_ack=False)
    assert message is not None
    redis_server.kill()
    consumer.release()
    redis_server.start()
    with redis.Redis.from_url(url) as client:  # what an ack does: drop it from the indices
        client.hdel("unacked", message.delivery_tag)
        client.zrem("unacked_index", message.delivery_tag)
    with Connection(url, transport=REDIS_TRANSPORT) as again:
        again.channel().close()
    assert counts(redis_server) == (0, 0)
    assert _redis_transport.pending_restores() == 0


@pytest.mark.parametrize(
    ("settings", "transport"),
    [
        ("broker_url = redis://127.0.0.1:6379/0", REDIS_TRANSPORT),
        ("broker_url = redis://127.0.0.1:6379/0\nbroker_transport = redis", "redis"),
        ("broker_url = amqp://guest:guest@127.0.0.1:5672//", None),
    ],
)
def test_a_redis_broker_gets_this_transport_unless_the_cfg_names_one(
    make_project: Callable[..., Project], settings: str, transport: str | None
) -> None:
    project = make_project(f"[PROJECT]\nNAME = T\n\n[CELERY]\n{settings}\n", start=False)
    assert project.celery.conf.broker_transport == transport
    with project.celery.connection_for_write() as connection:  # never connects
        shown = connection.as_uri()
    assert shown.split("://")[0] in ("redis", "amqp"), shown  # the banner says redis://
