"""Atomic file replacement: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to a temp file beside `path`, fsync it, then rename it over `path`.

    A crash at any point leaves either the old file or the new one; the temp file is removed when
    writing fails (a SIGKILL before the rename leaves it: see `remove_temp_files`). The file
    keeps its permissions, and a symlink keeps pointing at the file it names: the write goes to
    the link's target (a cfg kept in a dotfiles repository stays there).
    """
    path = Path(os.path.realpath(path))
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_folder(path.parent)


def remove_temp_files(path: Path) -> list[Path]:
    """Remove the temp files `atomic_write` left beside `path` when its process was killed
    before the rename (`.NAME.XXXXXXXX.tmp`); return the paths removed.

    Call it only while holding `locked(path)`, for a file whose every writer holds that lock
    while it writes (the cfg editor's saves): a temp file found then belongs to no live writer,
    so the next save cleans up after a killed one and such files never pile up.
    """
    path = Path(os.path.realpath(path))
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file currently at `path` (for read-check-replace cycles).

    The lock follows the inode, and a replace swaps the inode; so after locking we check that
    `path` still names the locked file, and start again when another writer got there first.
    """
    while True:
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                yield
                return
        finally:
            os.close(fd)
