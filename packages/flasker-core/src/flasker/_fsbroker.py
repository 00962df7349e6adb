"""The embedded broker: kombu's `filesystem://` transport in the project folder.

It is the only serverless transport that gives tasks, remote control (`inspect ping/stats/
active`) and worker events, so the console and Flower work on a laptop with nothing installed.

Two flaws are fixed here. Binding tables (`<exchange>.exchange` files) are rewritten under one
lock from open to write, with the old text truncated: kombu opens a new table with "wb", which
empties the file before taking the lock, so two callers binding at once (the console asks
three `inspect` questions side by side, each with its own reply queue) could leave
`[[A]] [B]]` behind, after which every broadcast failed with "JSONDecodeError: Extra data".
A table already damaged that way is read as its first well-formed list and rewritten.

And fanout bindings (`<exchange>.exchange` files in the control folder) are never
removed when a consumer dies, so every event or broadcast keeps writing a message file for each
dead receiver, forever. `prune_stale` removes them: a transient queue (an event receiver's
`celeryev.*`, a worker's `*.celery.pidbox` mailbox, a caller's `*.reply.celery.pidbox`) whose
oldest message has waited longer than `max_age` has no consumer left — live ones poll every
second. Task queues are never touched: their messages wait for a worker on purpose.

And no message is lost when its consumer dies. kombu's transport deletes a message file the
moment a consumer *fetches* it (prefetch included), so a worker killed with SIGKILL (the OOM
killer, a pulled plug) lost every task it had fetched and not finished, `task_acks_late` or
not. Here a consumer fetches a message by renaming its file into a folder of its own under
`unacked/`, which it keeps locked (`flock`) for its whole life; acknowledging (or rejecting
without requeue) deletes the file, requeueing and closing the channel rename it back into the
queue under its own name, marked redelivered. A consumer that starts, and every
`RECOVER_INTERVAL` after, puts back the files of every `unacked/` folder whose lock it can
take: the kernel drops a lock when its holder dies, however it dies. Publishing writes to a
hidden temporary name and renames it into place, so no consumer reads a half-written message.

Message files are named `<wall-clock ns, 20 digits>_<uuid>.<queue>.msg` and fetched in name
order, so a put-back message is at its old place in line, across reboots too (kombu's own names
start with `time.monotonic()` milliseconds, unpadded: that clock restarts at boot, and its
digit count grows with the uptime, so a plain sort mixed up old and new messages). A wall clock
set back reorders messages published around the step, no more.

And a message file that cannot be read or decoded (truncated by a full disk, a crash of the
machine mid-write, a hand edit) is moved to `broker/bad/` for the operator, with a warning
naming it, and the next message is fetched: kombu raised on it, and since the file stayed
where it was it failed the same way on every fetch, stalling every worker.
"""

# kombu's virtual transports are only partly annotated: calling into them is untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

#: Seconds a message may wait in a transient queue before that queue counts as abandoned.
DEFAULT_MAX_AGE = 120.0
#: Seconds between two looks, by a consuming channel, for the unacked folders of dead consumers.
RECOVER_INTERVAL = 10.0
#: The lock file of a consumer's unacked folder.
LOCK_NAME = ".lock"


@dataclass(frozen=True)
class BrokerFolders:
    """Where the embedded broker keeps its files, under the project's state folder."""

    root: Path

    @property
    def queue(self) -> Path:
        return self.root / "broker" / "queue"

    @property
    def control(self) -> Path:
        return self.root / "broker" / "control"

    @property
    def processed(self) -> Path:
        return self.root / "broker" / "processed"

    @property
    def unacked(self) -> Path:
        return self.root / "broker" / "unacked"

    @property
    def bad(self) -> Path:
        """Message files that could not be read, kept for the operator (made when needed)."""
        return self.root / "broker" / "bad"

    @property
    def results(self) -> Path:
        return self.root / "results.sqlite"

    def create(self) -> None:
        for folder in (self.queue, self.control, self.processed, self.unacked):
            folder.mkdir(parents=True, exist_ok=True)

    def celery_settings(self) -> dict[str, Any]:
        """Celery settings for this broker and its SQLite result store."""
        return {
            # a host, even unused, keeps kombu from warning "No hostname was supplied"
            "broker_url": "filesystem://localhost//",
            "broker_transport": f"{__name__}:Transport",
            "broker_transport_options": {
                "data_folder_in": str(self.queue),
                "data_folder_out": str(self.queue),
                "control_folder": str(self.control),
                "processed_folder": str(self.processed),
                "unacked_folder": str(self.unacked),
                "bad_folder": str(self.bad),
                "store_processed": False,
            },
            "result_backend": f"db+sqlite:///{self.results}",
        }


def parse_table(raw: bytes, where: Path) -> list[list[str]]:
    """The bindings of an exchange table; a damaged table yields its first well-formed list
    (the bindings a torn write left intact), or none."""
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return []
    try:
        table = json.loads(text)
    except ValueError:
        try:
            table, _end = json.JSONDecoder().raw_decode(text)
        except ValueError:
            table = []
        logger.warning("embedded broker: repaired the damaged binding table %s", where)
    if not isinstance(table, list):
        return []
    return [list(row) for row in table if isinstance(row, list) and len(row) == 3]


@contextlib.contextmanager
def locked_table(path: Path) -> Iterator[list[list[str]]]:
    """An exchange table to change in place: created when missing, locked (kombu's own
    `flock`) from before reading until after writing, and written back whole (truncated) when
    the list was changed or the file was damaged."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    with os.fdopen(descriptor, "rb+", buffering=0) as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            raw = handle.read() or b""
            table = parse_table(raw, path)
            before = json.dumps(table).encode()
            yield table
            after = json.dumps(table).encode()
            if after != before or raw.strip() != before:
                handle.seek(0)
                handle.truncate()
                handle.write(after)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# -- unacknowledged messages ---------------------------------------------------------------------
class Claim:
    """One consumer's folder of fetched, unacknowledged message files, locked for its life.

    The folder is made under a hidden name, locked, then renamed into place, so whoever sees
    it can trust its lock: held means its consumer is alive (in this process or another),
    free means it died and its messages belong back in the queue.
    """

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        staging = root / f".new-{name}"
        staging.mkdir()
        self.fd: int | None = os.open(staging / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(staging, root / name)
        except BaseException:
            os.close(self.fd)
            self.fd = None
            shutil.rmtree(staging, ignore_errors=True)  # empty: nothing fetched into it yet
            raise
        self.folder = root / name
        self.pid = os.getpid()
        _claims.add(self)

    @property
    def is_mine(self) -> bool:
        """False in a forked child: the claim (and its messages) stay its parent's."""
        return self.fd is not None and self.pid == os.getpid()

    def release(self, queue_folder: Path) -> None:
        """Put back what is left, then remove the folder; a no-op in a forked child."""
        if not self.is_mine:
            return
        try:
            requeue_all(self.folder, queue_folder)
            with contextlib.suppress(FileNotFoundError):
                (self.folder / LOCK_NAME).unlink()
            shutil.rmtree(self.folder, ignore_errors=True)
        finally:
            # on failure the files stay in the folder; freeing the lock lets the next
            # consumer's recovery put them back, instead of this process holding them to exit
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        _claims.discard(self)


_claims: weakref.WeakSet[Claim] = weakref.WeakSet()


def _forget_claims_in_child() -> None:
    # A forked pool process must not hold its parent's locks: closing its copy of the
    # descriptor leaves the lock with the parent, which still has the descriptor open.
    for claim in list(_claims):
        if claim.fd is not None:
            with contextlib.suppress(OSError):
                os.close(claim.fd)
            claim.fd = None
    _claims.clear()


os.register_at_fork(after_in_child=_forget_claims_in_child)


def requeue(path: Path, queue_folder: Path) -> bool:
    """Put one fetched message file back into the queue under its own name (so at its old
    place in line), marked redelivered as kombu's Redis transport marks it. False when the
    file was gone already.

    The mark is written in place inside the claim (a staged copy replacing the file), then the
    file itself is moved into the queue by one rename: a crash at any point leaves exactly one
    copy, in the claim (put back by the next recovery) or in the queue. Only the holder of the
    claim's lock calls this (or a recovery for a folder its owner had already emptied).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False
    try:
        payload = loads(bytes_to_str(raw))
        payload["redelivered"] = True
        payload["properties"].setdefault("delivery_info", {})["redelivered"] = True
        marked = str_to_bytes(dumps(payload))
    except (ValueError, TypeError, KeyError, AttributeError):
        marked = None  # put back as it is: the consumer that fetches it moves it to bad/
    if marked is not None:
        staged = path.with_name(f".requeue-{path.name}")
        try:
            staged.write_bytes(marked)
            os.replace(staged, path)
        except OSError as error:  # a full disk: put it back unmarked rather than not at all
            with contextlib.suppress(OSError):
                staged.unlink()
            logger.warning("embedded broker: cannot mark %s redelivered: %s", path.name, error)
    try:
        os.rename(path, queue_folder / path.name)
    except FileNotFoundError:
        if path.exists():
            raise  # no queue folder: keep the file where it is, never report it put back
        return False
    return True


def requeue_all(folder: Path, queue_folder: Path) -> int:
    """Put back every message file of an unacked folder; the number put back."""
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return 0
    return sum(requeue(folder / name, queue_folder) for name in names if _is_message(name))


def recover_unacked(unacked: Path, queue_folder: Path, keep: Path | None = None) -> int:
    """Put back the messages of every consumer that died holding them; the number put back.

    A folder whose lock can be taken has no live owner. `keep` is the caller's own folder.
    Safe to run from many processes at once: only the one holding a dead folder's lock moves
    its files.
    """
    try:
        entries = list(os.scandir(unacked))
    except FileNotFoundError:
        return 0
    recovered = 0
    for entry in entries:
        folder = Path(entry.path)
        if folder == keep or not entry.is_dir(follow_symlinks=False):
            continue
        if entry.name.startswith(".new-"):
            # a consumer that died while making its folder had fetched nothing yet
            with contextlib.suppress(FileNotFoundError):
                if time.time() - entry.stat().st_mtime > DEFAULT_MAX_AGE:
                    _recover_folder(folder, queue_folder)
            continue
        recovered += _recover_folder(folder, queue_folder)
    return recovered


def _recover_folder(folder: Path, queue_folder: Path) -> int:
    """Put back and remove one unacked folder if its owner is dead; the number put back."""
    try:
        descriptor = _take_if_dead(folder)
    except FileNotFoundError:
        # its owner is removing it (or died doing so, after putting its files back)
        count = requeue_all(folder, queue_folder)
        shutil.rmtree(folder, ignore_errors=True)  # at most hidden leftovers are left
        return count
    if descriptor is None:
        return 0  # alive
    try:
        count = requeue_all(folder, queue_folder)
        if count:
            logger.warning(
                "embedded broker: put back %d message(s) that a dead worker had fetched "
                "and not acknowledged (%s)",
                count,
                folder.name,
            )
        # removed only once everything is back: on an error the next recovery tries again
        with contextlib.suppress(FileNotFoundError):
            (folder / LOCK_NAME).unlink()
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(descriptor)
    return count


def _take_if_dead(folder: Path) -> int | None:
    """The descriptor of `folder`'s lock, locked by us, when its owner is dead (the kernel
    dropped its lock); None while the owner lives. FileNotFoundError: no lock file (left)."""
    descriptor = os.open(folder / LOCK_NAME, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        return None
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def _is_message(name: str) -> bool:
    return name.endswith(".msg") and not name.startswith(".")


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


def is_transient_queue(name: str) -> bool:
    return name.startswith("celeryev.") or name.endswith(".celery.pidbox")


def _queue_of(message_file: str) -> str | None:
    # kombu names message files '<ms>_<uuid>.<queue>.msg'; hidden ones are being written/taken
    if not _is_message(message_file):
        return None
    return message_file.partition(".")[2].removesuffix(".msg")


@dataclass
class PruneReport:
    unbound: list[str] = field(default_factory=list)
    removed_messages: int = 0
    #: hidden files a process died writing (`.put-`) or taking (`.taken-`, `.requeue-`)
    removed_leftovers: int = 0


def prune_stale(
    folders: BrokerFolders, max_age: float = DEFAULT_MAX_AGE, now: float | None = None
) -> PruneReport:
    """Unbind abandoned transient queues and delete their waiting messages."""
    report = PruneReport()
    if not folders.queue.is_dir():
        return report
    now = time.time() if now is None else now
    oldest: dict[str, float] = {}
    files: dict[str, list[Path]] = {}
    for entry in os.scandir(folders.queue):
        if entry.name.startswith((".put-", ".taken-", ".requeue-")):
            with contextlib.suppress(FileNotFoundError):
                if now - entry.stat().st_mtime > max_age:
                    os.unlink(entry.path)
                    report.removed_leftovers += 1
            continue
        queue = _queue_of(entry.name)
        if queue is None or not is_transient_queue(queue):
            continue
        with contextlib.suppress(FileNotFoundError):
            mtime = entry.stat().st_mtime
            oldest[queue] = min(mtime, oldest.get(queue, mtime))
            files.setdefault(queue, []).append(Path(entry.path))
    stale = {queue for queue, mtime in oldest.items() if now - mtime > max_age}
    if not stale:
        return report
    if folders.control.is_dir():
        for table in folders.control.glob("*.exchange"):
            report.unbound += _unbind(table, stale)
    for queue in stale:
        for path in files[queue]:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                report.removed_messages += 1
    return report


def _unbind(table: Path, stale: set[str]) -> list[str]:
    """Remove bindings of stale queues from one exchange table, under kombu's own file lock."""
    if not table.exists():
        return []
    with locked_table(table) as bindings:
        removed = [b[2] for b in bindings if b[2] in stale]
        bindings[:] = [b for b in bindings if b[2] not in stale]
    return removed
