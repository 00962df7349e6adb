"""Fetched, unacknowledged messages: each consumer's claim folder, locked for its life, and the
putting back of what a dead consumer held (see the package's docstring)."""

# kombu's virtual transports are only partly annotated: calling into them is untyped.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import time
import uuid
import weakref
from pathlib import Path

from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

from .folders import DEFAULT_MAX_AGE

logger = logging.getLogger("flasker._fsbroker")  # one logger for all of the broker's parts

#: The lock file of a consumer's unacked folder.
LOCK_NAME = ".lock"


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
    return sum(requeue(folder / name, queue_folder) for name in names if is_message(name))


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


def is_message(name: str) -> bool:
    return name.endswith(".msg") and not name.startswith(".")
