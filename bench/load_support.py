"""What the load benchmarks share: CPU time from /proc, the load average, a copy of the example.

The benchmarks (bench/server_load.py, bench/tasks.py, bench/console_workers.py) run on a
2-core machine that other work shares, so every table says the load average next to it, and
says where the CPU went (CPU seconds per process group over the measured window, from
/proc/PID/stat: no psutil needed).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from flasker.testing import RedisServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "houses"
TICKS = os.sysconf("SC_CLK_TCK")


def loadavg() -> str:
    """`load average 1.23 0.98 0.70 (2 cores)`, for the line above a table."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces; fields after it are plain
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (gunicorn's workers, a prefork pool's children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def matching(predicate: Callable[[str], bool]) -> list[int]:
    """Processes whose command line (spaces between arguments) satisfies `predicate`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if raw and predicate(raw.replace(b"\0", b" ").decode(errors="replace")):
            pids.append(int(entry))
    return pids


def cpu_seconds(pids: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still alive."""
    times = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            times[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return times


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (every core, every process)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS


class CpuMeter:
    """CPU used by named groups of processes between `start()` and `stop()`, in % of one core.

    Each group is a function returning its pids, asked at both ends (processes that appear in
    between count from zero; those that exit lose their share, so measure while they run)::

        meter = CpuMeter({"server": lambda: descendants(server.pid)})
        meter.start(); ...; meter.stop()
        meter.percent()  # {"server": 97.0, "machine": 180.0}

    "machine" is every process's CPU together (from /proc/stat): what the groups do not
    account for went to other work on the machine.
    """

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self._before: dict[str, dict[int, float]] = {}
        self._after: dict[str, dict[int, float]] = {}
        self._began = self._ended = self._machine = 0.0

    def start(self) -> None:
        self._before = {name: cpu_seconds(pids()) for name, pids in self.groups.items()}
        self._machine = machine_busy()
        self._began = time.monotonic()

    def stop(self) -> None:
        self._ended = time.monotonic()
        self._after = {name: cpu_seconds(pids()) for name, pids in self.groups.items()}
        self._machine = machine_busy() - self._machine

    def percent(self) -> dict[str, float]:
        wall = max(self._ended - self._began, 1e-9)
        used = {}
        for name, after in self._after.items():
            before = self._before.get(name, {})
            spent = sum(value - before.get(pid, 0.0) for pid, value in after.items())
            used[name] = 100.0 * spent / wall
        used["machine"] = 100.0 * self._machine / wall
        return used


def copy_example(destination: Path) -> Path:
    """A copy of examples/houses (its cfg and package, none of its local state); the cfg."""
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(EXAMPLE / "default.cfg", destination / "default.cfg")
    shutil.copytree(
        EXAMPLE / "houses",
        destination / "houses",
        ignore=shutil.ignore_patterns("__pycache__", "*.sqlite*", ".flasker"),
    )
    return destination / "default.cfg"


@contextmanager
def redis_server(folder: Path) -> Iterator[RedisServer]:
    """A redis-server of the benchmark's own on a free port (its CPU is then ours alone),
    keeping nothing on disk, stopped afterwards."""
    with RedisServer(folder, persistent=False) as server:
        yield server
