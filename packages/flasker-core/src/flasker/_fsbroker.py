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
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kombu.transport import filesystem, virtual

logger = logging.getLogger(__name__)

#: Seconds a message may wait in a transient queue before that queue counts as abandoned.
DEFAULT_MAX_AGE = 120.0


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
    def results(self) -> Path:
        return self.root / "results.sqlite"

    def create(self) -> None:
        for folder in (self.queue, self.control, self.processed):
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


class Channel(filesystem.Channel):
    """kombu's filesystem channel with binding tables changed under one lock (see above)."""

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
    # kombu names message files '<ms>_<uuid>.<queue>.msg'
    if not message_file.endswith(".msg"):
        return None
    return message_file.partition(".")[2].removesuffix(".msg")


@dataclass
class PruneReport:
    unbound: list[str] = field(default_factory=list)
    removed_messages: int = 0


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
