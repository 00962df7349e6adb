"""kombu's filesystem channel and transport, with the fixes the package's docstring describes:
tables changed under one lock, messages held in a claim until acknowledged, atomic
publishing, unreadable files set aside, and broker state kept per broker folder."""

# kombu's virtual transports are only partly annotated: calling into them is untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from .claims import Claim, recover_unacked, requeue
from .tables import locked_table, parse_table

logger = logging.getLogger("flasker._fsbroker")  # one logger for all of the broker's parts

#: Seconds between two looks, by a consuming channel, for the unacked folders of dead consumers.
RECOVER_INTERVAL = 10.0


class Channel(filesystem.Channel):
    """kombu's filesystem channel with binding tables changed under one lock, messages held in
    an unacked folder until acknowledged, and atomic publishing (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._no_ack_queues: set[str] = set()
        self._get_no_ack: bool | None = None
        self._claim: Claim | None = None
        self._claim_lock = threading.Lock()
        self._fetched: dict[str, Path] = {}  # delivery tag -> its file in the claim
        self._recovered_at = 0.0

    # -- where things are
    @property
    def unacked_folder(self) -> Path:
        folder = self.transport_options.get("unacked_folder")
        return Path(folder) if folder else Path(self.data_folder_in).parent / "unacked"

    @property
    def queue_folder(self) -> Path:
        return Path(self.data_folder_in)

    @property
    def bad_folder(self) -> Path:
        folder = self.transport_options.get("bad_folder")
        return Path(folder) if folder else Path(self.data_folder_in).parent / "bad"

    # -- publishing
    # The signature of kombu's filesystem.Channel._put, which differs from its abstract base's.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Write the message under a hidden name, then rename it into the queue: a consumer
        never sees a file that is still being written. Named by the wall clock, zero-padded,
        so that name order is publishing order across reboots (see above)."""
        name = f"{time.time_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        folder = self.data_folder_out
        staged = os.path.join(folder, f".put-{name}")
        try:
            with open(staged, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(staged, os.path.join(folder, name))
        except OSError as error:
            with contextlib.suppress(OSError):
                os.unlink(staged)
            raise ChannelError(f"Cannot add file {name!r} to directory") from error

    # -- fetching
    def basic_consume(
        self, queue: str, no_ack: bool, callback: Any, consumer_tag: str, **kwargs: Any
    ) -> Any:
        if no_ack:
            self._no_ack_queues.add(queue)
        else:
            self._no_ack_queues.discard(queue)
        return super().basic_consume(queue, no_ack, callback, consumer_tag, **kwargs)

    def basic_get(self, queue: str, no_ack: bool = False, **kwargs: Any) -> Any:
        self._get_no_ack = no_ack
        try:
            return super().basic_get(queue, no_ack=no_ack, **kwargs)
        finally:
            self._get_no_ack = None

    # The signature of kombu's filesystem.Channel._get, which differs from its abstract base's.
    def _get(self, queue: str) -> Any:  # type: ignore[override]
        """Take the oldest message of `queue`: into this consumer's unacked folder when it
        will be acknowledged, else (no_ack: replies, events, mailboxes) straight away. A file
        that cannot be read is moved to the bad folder and the next one is taken."""
        if self.store_processed:
            return super()._get(queue)
        no_ack = self._get_no_ack
        if no_ack is None:
            no_ack = queue in self._no_ack_queues
        claim = None if no_ack else self._own_claim()
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            source = os.path.join(self.data_folder_in, name)
            if claim is None:
                target = Path(self.data_folder_in) / f".taken-{uuid.uuid4().hex}-{name}"
            else:
                target = claim.folder / name
            try:
                os.rename(source, target)
            except FileNotFoundError:
                continue  # another consumer took it first
            try:
                payload = loads(bytes_to_str(target.read_bytes()))
                delivery_tag = payload["properties"]["delivery_tag"]
            except (OSError, ValueError, TypeError, KeyError) as error:
                self._set_aside(target, name, error)
                continue
            if claim is None:
                target.unlink(missing_ok=True)
            else:
                self._fetched[delivery_tag] = target
            return payload
        raise Empty()

    def _set_aside(self, path: Path, name: str, error: Exception) -> None:
        """Move a message file that cannot be read (or is no kombu message) out of the way,
        kept for the operator: left in the queue or a claim, it would fail every fetch."""
        bad = self.bad_folder
        try:
            bad.mkdir(parents=True, exist_ok=True)
            os.replace(path, bad / name)
        except OSError as move_error:
            raise ChannelError(
                f"Cannot read file {name!r} from queue, nor move it to {bad}: {move_error}"
            ) from error
        logger.warning(
            "embedded broker: moved the unreadable message file %s to %s (%s: %s)",
            name,
            bad,
            type(error).__name__,
            error,
        )

    def _own_claim(self) -> Claim:
        """This channel's unacked folder (made on its first fetch), and now and then a look
        for the folders of dead consumers."""
        with self._claim_lock:
            if self._claim is None or not self._claim.is_mine:
                self._claim = Claim(self.unacked_folder)
                self._fetched.clear()
            claim = self._claim
        now = time.monotonic()
        if now - self._recovered_at >= RECOVER_INTERVAL:
            self._recovered_at = now
            recover_unacked(self.unacked_folder, self.queue_folder, keep=claim.folder)
        return claim

    # -- settling
    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._settle(delivery_tag)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        # with requeue, kombu's QoS calls _restore_at_beginning, which puts the file back
        super().basic_reject(delivery_tag, requeue)
        self._settle(delivery_tag)

    def _settle(self, delivery_tag: str) -> None:
        path = self._fetched.pop(delivery_tag, None)
        if path is not None and self._claim is not None and self._claim.is_mine:
            path.unlink(missing_ok=True)

    def _restore(self, message: Any) -> None:
        """Requeue (reject, recover, close): the fetched file goes back, not a copy of it."""
        path = self._fetched.pop(message.delivery_tag, None)
        if path is None:
            super()._restore(message)
        elif self._claim is not None and self._claim.is_mine:
            requeue(path, self.queue_folder)
        # else: a forked child closing the channel it inherited; the message is its parent's

    def close(self) -> None:
        claim, queue_folder = self._claim, self.queue_folder
        try:
            super().close()  # restores what was fetched and not acknowledged
        finally:
            if claim is not None:
                claim.release(queue_folder)
                self._claim = None

    def get_table(self, exchange: str) -> list[Any]:
        path = self._exchange_file(exchange)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            return []
        with handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            try:
                rows = parse_table(handle.read(), path)
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return [filesystem.exchange_queue_t(*row) for row in rows]

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        path = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        binding = [routing_key or "", pattern or "", queue or ""]
        with locked_table(path) as table:
            if binding not in table:
                table.insert(0, binding)

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        path = self._exchange_file(exchange)
        if not path.exists():
            return
        binding = [routing_key or "", pattern or "", queue or ""]
        with locked_table(path) as table:
            while binding in table:
                table.remove(binding)


class Transport(filesystem.Transport):
    """kombu's filesystem transport, with its broker state kept per broker folder.

    kombu keeps declared exchanges and bindings in one process-wide state and skips declaring a
    binding it believes exists. With two projects in one process (a test suite, a console) the
    second project's bindings were never written to its control folder, so its task messages
    were silently dropped. Keying the state by the control folder keeps each broker apart.
    """

    Channel = Channel
    _states: dict[str, virtual.BrokerState] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        folder = str(client.transport_options.get("control_folder", "control"))
        self.state = self._states.setdefault(os.path.abspath(folder), virtual.BrokerState())
