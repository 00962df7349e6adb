"""Pruning: fanout bindings of dead consumers are never removed by kombu, so every event or
broadcast would keep writing a message file for each dead receiver, forever. A transient
queue whose oldest message waited longer than `max_age` has no consumer left (live ones poll
every second); task queues are never touched."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .claims import is_message
from .folders import DEFAULT_MAX_AGE, BrokerFolders
from .tables import locked_table


def is_transient_queue(name: str) -> bool:
    return name.startswith("celeryev.") or name.endswith(".celery.pidbox")


def queue_of(message_file: str) -> str | None:
    # kombu names message files '<ms>_<uuid>.<queue>.msg'; hidden ones are being written/taken
    if not is_message(message_file):
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
        queue = queue_of(entry.name)
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
