"""Messages waiting in each queue (queues.py), on the overview's Workers card.

Real brokers: the embedded one, Redis (`redis_url`) and RabbitMQ (`rabbitmq_url`). Messages
are published to queues no worker consumes (`send_task`), so they stay, and the card must show
exactly how many; with a real `flasker worker` on Redis, the queue it consumes is listed beside
the default queue. A broker that refuses, or one that never answers, is marked as such within
the deadline.
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import wait_for, worker_process
from flasker_console.queues import QueueLength, queue_lengths

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
HTMX = {"HX-Request": "true"}
#: A worker needs a few seconds to import Celery and the project; CI machines are slower.
WAIT = 60.0

SOURCE = """\
from flasker import current_project
from flasker_console import ConsoleManager

console = current_project.register_manager(
    ConsoleManager(inspect_timeout=0.5, check_timeout=2.0, events=False)
)
celery = current_project.celery
"""

#: The [CELERY] section of a site on a broker server, its default queue a name of its own.
BROKER_CELERY = "\n[CELERY]\nbroker_url = {broker}\ntask_default_queue = {queue}\n"


def on_broker(make_console: Callable[..., ConsoleSite], sample_cfg: str, broker: str) -> Any:
    queue = unique("backlog")
    return make_console(cfg=sample_cfg + BROKER_CELERY, source=SOURCE, broker=broker, queue=queue)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def card(site: ConsoleSite) -> str:
    answer = site.get("/overview/workers", headers=HTMX)
    assert answer.status_code == 200
    return str(answer.get_data(as_text=True))


def shown(page: str) -> dict[str, str]:
    """Queue → messages waiting as the card shows them ("" when unknown)."""
    return dict(re.findall(r'data-testid="queue" data-queue="([^"]+)" data-messages="(\d*)"', page))


def publish(site: ConsoleSite, count: int, queue: str | None = None, **options: Any) -> None:
    """`count` messages of a task no worker knows, to `queue` (None: the default queue)."""
    for number in range(count):
        site.project.celery.send_task("nobody.runs.this", args=(number,), queue=queue, **options)


def test_the_embedded_broker_counts_the_message_files_of_each_queue(
    make_console: Callable[..., ConsoleSite],
) -> None:
    site = make_console(source=SOURCE)
    assert shown(card(site)) == {"celery": "0"}
    publish(site, 3)
    publish(site, 2, queue="other")
    page = card(site)
    assert shown(page) == {"celery": "3"}  # only the default queue: no worker consumes "other"
    assert 'data-queue="celery" data-messages="3" class="table-warning"' in page  # nobody reads
    assert 'data-testid="queues-problem"' not in page
    lengths = queue_lengths(site.project, {"other": 0}, 2.0)
    assert lengths.queues == [
        QueueLength("celery", 3, 0, is_default=True),
        QueueLength("other", 2, 0),
    ]
    assert (lengths.problem, lengths.waiting) == (None, 5)


@pytest.mark.redis
def test_redis_counts_the_queue_list_and_its_priority_lists(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, redis_url: str
) -> None:
    import redis

    site = on_broker(make_console, sample_cfg, redis_url)
    default = site.project.celery.conf.task_default_queue
    assert shown(card(site)) == {default: "0"}  # Redis keeps no empty list: 0, not unknown
    publish(site, 4)
    publish(site, 2, priority=5)  # kombu keeps these in the list `<queue>\x06\x163`
    client = redis.Redis.from_url(redis_url)
    try:
        assert (client.llen(default), client.llen(f"{default}\x06\x163")) == (4, 2)
    finally:
        client.close()
    assert shown(card(site)) == {default: "6"}
    lengths = queue_lengths(site.project, {"other": 1}, 2.0)
    assert [(q.name, q.messages, q.consumers) for q in lengths.queues] == sorted(
        [(default, 6, 0), ("other", 0, 1)]
    )


@pytest.fixture
def rabbitmq_queues(rabbitmq_url: str) -> Iterator[list[str]]:
    """Names of the queues a test declares on the shared RabbitMQ: deleted afterwards."""
    from kombu import Connection

    names: list[str] = []
    yield names
    with Connection(rabbitmq_url, connect_timeout=2) as connection:
        for name in names:
            channel = connection.channel()
            try:
                channel.queue_delete(name)
                channel.exchange_delete(name)
            except Exception:  # never declared: nothing to delete
                pass
            finally:
                channel.close()


@pytest.mark.rabbitmq
def test_rabbitmq_counts_with_a_passive_declare(
    make_console: Callable[..., ConsoleSite],
    sample_cfg: str,
    rabbitmq_url: str,
    rabbitmq_queues: list[str],
) -> None:
    site = on_broker(make_console, sample_cfg, rabbitmq_url)
    default = site.project.celery.conf.task_default_queue
    other = unique("other")
    rabbitmq_queues += [default, other]
    publish(site, 5)
    publish(site, 1, queue=other)
    assert shown(card(site)) == {default: "5"}
    # a queue RabbitMQ does not have is said so, and the queues after it are still counted
    missing = "a-" + unique("missing")
    lengths = queue_lengths(site.project, {missing: 0, other: 0}, 2.0)
    assert lengths.queues == [
        QueueLength(missing, None, 0, problem="no such queue on the broker"),
        QueueLength(default, 5, 0, is_default=True),
        QueueLength(other, 1, 0),
    ]
    page = card(site)
    assert 'data-testid="queue-problem"' not in page


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_queues_a_worker_consumes_are_listed_beside_the_default_queue(
    make_console: Callable[..., ConsoleSite], sample_cfg: str, redis_url: str, tmp_path: Path
) -> None:
    site = on_broker(make_console, sample_cfg, redis_url)
    default = site.project.celery.conf.task_default_queue
    work, log = unique("work"), tmp_path / "worker.log"
    publish(site, 3)  # to the default queue, which the worker does not consume
    with worker_process(site.cfg, log, "-n", unique("queues") + "@test", "-Q", work):
        wait_for(
            lambda: shown(card(site)) == {default: "3", work: "0"},
            WAIT,
            what="the worker's queue listed beside the default queue",
            log=log,
        )
        page = card(site)
        rows = re.findall(r'data-queue="([^"]+)".*?</tr>', page, re.S)
        assert rows == sorted([default, work])
        worker_row = page.split(f'data-queue="{work}"')[1].split("</tr>")[0]
        assert '<td class="text-end">1</td>' in worker_row  # one worker consumes it
        default_row = page.split(f'data-queue="{default}"')[1].split("</tr>")[0]
        assert 'class="table-warning"' in default_row  # 3 waiting, nobody consumes them
        assert '<td class="text-end">none</td>' in default_row


def test_a_broker_that_refuses_is_marked_on_the_card(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    site = make_console(
        cfg=sample_cfg + BROKER_CELERY, source=SOURCE, broker="redis://127.0.0.1:9/0", queue="q"
    )
    refused = (
        "the broker did not answer: OperationalError: Error 111 connecting to 127.0.0.1:9. "
        "Connection refused."
    )
    page = card(site)
    assert shown(page) == {"q": ""}
    # not asked again when the workers' round already found the broker down; else asked, and
    # refused
    assert re.findall(r'data-testid="queues-problem">(.*?)</p>', page) in (
        ["Messages waiting unknown: the broker did not answer"],
        [f"Messages waiting unknown: {refused}"],
    )
    assert 'data-testid="queue-unknown">unknown</span>' in page
    # asked directly, it says why
    lengths = queue_lengths(site.project, {}, 2.0)
    assert lengths.queues == [QueueLength("q", None, 0, is_default=True)]
    assert lengths.problem == refused


def test_a_broker_that_never_answers_is_given_up_at_the_deadline(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        site = make_console(
            cfg=sample_cfg + BROKER_CELERY,
            source=SOURCE,
            broker=f"redis://127.0.0.1:{port}/0",
            queue="q",
        )
        started = time.monotonic()
        lengths = queue_lengths(site.project, {"busy": 2}, 0.5)
        assert time.monotonic() - started < 1.5
    assert lengths.problem == "the broker did not answer: no answer within 0.5 s"
    assert lengths.queues == [
        QueueLength("busy", None, 2),
        QueueLength("q", None, 0, is_default=True),
    ]
