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

Its parts: `folders` (where the files are, and the Celery settings), `tables` (binding tables
under one lock), `claims` (unacknowledged messages and their recovery), `channel` (kombu's
channel and transport with these fixes) and `prune` (abandoned transient queues).
"""

from .channel import RECOVER_INTERVAL, Channel, Transport
from .claims import (
    LOCK_NAME,
    Claim,
    is_message,
    recover_unacked,
    requeue,
    requeue_all,
)
from .folders import DEFAULT_MAX_AGE, BrokerFolders
from .prune import PruneReport, is_transient_queue, prune_stale, queue_of
from .tables import locked_table, parse_table

#: The older, private name of `queue_of` (tests and the console's test fixtures use it).
_queue_of = queue_of

__all__ = [
    "DEFAULT_MAX_AGE",
    "LOCK_NAME",
    "RECOVER_INTERVAL",
    "BrokerFolders",
    "Channel",
    "Claim",
    "PruneReport",
    "Transport",
    "is_message",
    "is_transient_queue",
    "locked_table",
    "parse_table",
    "prune_stale",
    "queue_of",
    "recover_unacked",
    "requeue",
    "requeue_all",
]
