"""How many messages wait in each queue the workers consume, asked of the broker with a deadline.

The overview's Workers card shows them: a backlog that grows is the first sign that the workers
do not keep up (or that no worker consumes a queue tasks are sent to). Counted per broker:

- **Redis and RabbitMQ**: a passive `queue_declare` through kombu, whose answer carries the
  queue's `message_count`, changing nothing on the broker. On Redis kombu answers it with the
  LLEN of the queue's list plus its priority lists (`<queue>\\x06\\x163`, ... one per
  `priority_steps`, under `global_keyprefix`): its own naming, so nothing here repeats it.
  Redis drops an empty list, so a queue it does not know holds 0 messages; RabbitMQ keeps every
  declared queue, so one it does not know is marked as such.
- **The embedded broker** (`flasker._fsbroker`): the message files of the queue in its queue
  folder (`<ns>_<uuid>.<queue>.msg`, `queue_of`), counted without a broker connection. Files a
  worker has fetched (moved under `unacked/`) and hidden ones being written are not waiting.

Only messages ready for a worker are counted (RabbitMQ's `message_count`, Redis's lists, the
queue folder): those a worker holds unacknowledged are being worked on. Everything runs within
one deadline (`flasker.deadline.within`, the console's CHECK_TIMEOUT); nothing here raises: a
broker that does not answer in time marks every queue as unknown, and says why.

    lengths = queue_lengths(project, ["celery", "mail"], timeout=2.0)
    lengths.queues[0].messages        # 12, or None when unknown (`problem` says why)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flasker.deadline import CheckTimeout, within

if TYPE_CHECKING:
    from flasker.project import Project


@dataclass(frozen=True)
class QueueLength:
    """One queue: messages waiting in it (None when unknown: `problem` says why) and the
    number of online workers consuming it."""

    name: str
    messages: int | None
    consumers: int = 0
    is_default: bool = False
    problem: str | None = None


@dataclass(frozen=True)
class QueueLengths:
    """Every queue counted; `problem`: why none could be (the broker did not answer)."""

    queues: list[QueueLength]
    problem: str | None = None

    @property
    def waiting(self) -> int:
        """Messages waiting in all the queues that answered."""
        return sum(queue.messages or 0 for queue in self.queues)


def default_queue(project: Project) -> str:
    """Where a task goes unless routed elsewhere (`task_default_queue`, "celery" unless set)."""
    return str(project.celery.conf.task_default_queue or "celery")


def consumed_queues(workers: Iterable[Any]) -> dict[str, int]:
    """Queue name → how many of the online `workers` consume it (workers.Worker rows: their
    `online` and `queues`)."""
    consumers: dict[str, int] = {}
    for worker in workers:
        if getattr(worker, "online", False):
            for name in getattr(worker, "queues", None) or ():
                consumers[name] = consumers.get(name, 0) + 1
    return consumers


def queue_lengths(
    project: Project, consumers: dict[str, int], timeout: float, *, default: str | None = None
) -> QueueLengths:
    """The length of every queue in `consumers` (name → online workers consuming it) and of
    the default queue, sorted by name, within `timeout` seconds."""
    default = default or default_queue(project)
    names = sorted({*consumers, default})
    try:
        counts = within(timeout, lambda: _count(project, names, timeout))
    except CheckTimeout as error:
        return _unknown(names, consumers, default, f"the broker did not answer: {error}")
    except Exception as error:
        return _unknown(names, consumers, default, f"the broker did not answer: {_say(error)}")
    rows = []
    for name in names:
        count = counts.get(name)
        rows.append(
            QueueLength(
                name,
                count if isinstance(count, int) else None,
                consumers.get(name, 0),
                name == default,
                count if isinstance(count, str) else None,
            )
        )
    return QueueLengths(rows)


def unanswered(project: Project, consumers: dict[str, int], problem: str) -> QueueLengths:
    """The queues, every length unknown, and why: the broker is already known to be down, so
    it is not asked again (a second wait of the whole deadline)."""
    default = default_queue(project)
    return _unknown(sorted({*consumers, default}), consumers, default, problem)


def _unknown(
    names: list[str], consumers: dict[str, int], default: str, problem: str
) -> QueueLengths:
    rows = [QueueLength(n, None, consumers.get(n, 0), n == default) for n in names]
    return QueueLengths(rows, problem)


def _count(project: Project, names: list[str], timeout: float) -> dict[str, int | str]:
    """Name → messages waiting, or the text of why that queue could not be counted."""
    if project.config.is_embedded_broker:
        return _count_files(_queue_folder(project), names)
    return _count_on_broker(project, names, timeout)


# -- the embedded broker --------------------------------------------------------------------
def _queue_folder(project: Project) -> Path:
    """Where the embedded broker writes messages (its transport options, as the workers use
    them; core's default folder when they name none)."""
    from flasker._fsbroker import BrokerFolders

    options = project.celery.conf.broker_transport_options or {}
    folder = options.get("data_folder_in")
    return Path(folder) if folder else BrokerFolders(project.config.state_folder).queue


def _count_files(folder: Path, names: list[str]) -> dict[str, int | str]:
    from flasker._fsbroker import queue_of

    counts: dict[str, int | str] = dict.fromkeys(names, 0)
    for entry in os.listdir(folder):  # a missing folder: the broker is gone (the caller says so)
        name = queue_of(entry)
        if name is not None and name in counts:
            counts[name] = int(counts[name]) + 1
    return counts


# -- Redis, RabbitMQ (and any kombu transport with a passive declare) ------------------------
def _count_on_broker(project: Project, names: list[str], timeout: float) -> dict[str, int | str]:
    from kombu.transport import virtual as kombu_virtual

    counts: dict[str, int | str] = {}
    with project.celery.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
        # kombu's emulated brokers (Redis...) have no queue objects: unknown means empty
        virtual = isinstance(connection.transport, kombu_virtual.Transport)
        for name in names:
            # a channel per queue: RabbitMQ closes the channel of a declare it refuses
            channel = connection.channel()
            try:
                counts[name] = int(channel.queue_declare(queue=name, passive=True).message_count)
            except Exception as error:
                if not _not_found(error):
                    counts[name] = _say(error)
                elif virtual:  # Redis: an empty list does not exist
                    counts[name] = 0
                else:
                    counts[name] = "no such queue on the broker"
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return counts


def _not_found(error: BaseException) -> bool:
    """A passive declare of a queue the broker does not have: py-amqp's `NotFound` (code 404),
    or kombu's virtual transports' `ChannelError(..., '404')`."""
    code = getattr(error, "code", None) or getattr(error, "reply_code", None)
    return code == 404 or "404" in error.args[3:4] or "NOT_FOUND" in str(error)


def _say(error: BaseException) -> str:
    """An error's kind and its first line."""
    line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {line}" if line else type(error).__name__
