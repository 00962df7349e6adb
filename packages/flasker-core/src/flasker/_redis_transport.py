"""kombu's Redis transport, putting back what a worker had fetched when Redis itself restarted.

A worker fetches a few messages ahead (prefetch), and with `task_acks_late` holds the one it
runs unacknowledged: kombu keeps each fetched message in Redis's `unacked` hash until it is
acknowledged. When the connection is lost the worker forgets them (their delivery tags belong
to the dead channel) and kombu puts them back in their queue at once ("Restoring N
unacknowledged message(s)"), over the connection that was just lost. When Redis itself is
down (a crash, a restart) that fails, and the messages wait in `unacked` until their
`visibility_timeout` (an hour by default) expires: the queued tasks run an hour late.

This transport keeps, per broker and process, the delivery tags whose restore failed, and
puts those messages back as soon as a channel to the same broker opens again, which is the
worker's reconnection. A message acknowledged meanwhile is no longer in `unacked` and is left
alone (the restore is one Redis transaction that checks). One whose task was still running
when the connection dropped is delivered again: at-least-once, as kombu's own restore at
reconnection does when Redis is up.

flasker selects it for a `redis://` broker unless the cfg sets `broker_transport`.
"""

# kombu's virtual transports are only partly annotated: calling into them is untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import logging
import threading
from typing import Any

from kombu import connection as kombu_connection
from kombu.transport import redis as kombu_redis

logger = logging.getLogger("flasker")

#: The name `broker_transport` takes.
TRANSPORT = f"{__name__}:Transport"

_lock = threading.Lock()
#: (host, port, virtual host, unacked key) → delivery tags to put back once Redis answers.
_orphans: dict[tuple[Any, ...], set[str]] = {}


def _broker_key(channel: Any) -> tuple[Any, ...]:
    client = channel.connection.client
    return (client.hostname, client.port, client.virtual_host, channel.unacked_key)


def pending_restores() -> int:
    """Messages this process still has to put back (for tests and logs)."""
    with _lock:
        return sum(len(tags) for tags in _orphans.values())


class QoS(kombu_redis.QoS):
    def restore_unacked(self, client: Any = None) -> Any:
        tags = [str(tag) for tag in self._delivered]
        try:
            return super().restore_unacked(client)
        except self.channel.connection.connection_errors as error:
            with _lock:
                _orphans.setdefault(_broker_key(self.channel), set()).update(tags)
            self._delivered.clear()
            logger.warning(
                "Redis did not answer while %d fetched message(s) were put back in their queue "
                "(%s: %s); they will be as soon as it answers again",
                len(tags),
                type(error).__name__,
                error,
            )
            return None


class Channel(kombu_redis.Channel):
    QoS = QoS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # connects (PING): Redis answers again
        self._restore_orphans()

    def _restore_orphans(self) -> None:
        key = _broker_key(self)
        with _lock:
            tags = _orphans.pop(key, set())
        if not tags:
            return
        left = sorted(tags)
        try:
            with self.conn_or_acquire() as client:
                while left:
                    self.qos.restore_by_tag(left[0], client=client)
                    left.pop(0)
        except self.connection_errors as error:
            with _lock:
                _orphans.setdefault(key, set()).update(left)
            logger.warning("putting fetched messages back failed again: %s", error)
        restored = len(tags) - len(left)
        if restored:
            logger.warning(
                "put %d message(s) fetched before Redis went away back in their queue", restored
            )


class Transport(kombu_redis.Transport):
    Channel = Channel


# URLs shown for a connection (the worker's banner and log, Flower) say redis://, not this path
kombu_connection.resolve_aliases.setdefault(TRANSPORT, "redis")
