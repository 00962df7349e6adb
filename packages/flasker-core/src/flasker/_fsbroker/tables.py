"""Exchange binding tables (`<exchange>.exchange` files), read and changed under kombu's own
`flock`: kombu opens a table with "wb", which empties it before taking the lock, so two
callers binding at once could leave a damaged table behind (see the package's docstring).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger("flasker._fsbroker")  # one logger for all of the broker's parts


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
