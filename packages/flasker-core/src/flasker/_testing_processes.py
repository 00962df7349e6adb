"""Subprocesses for tests: a real `flasker server` (`LiveServer`), `flasker worker` and other
commands in the background, and waiting on them with a deadline (see `flasker.testing`,
which re-exports these)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ._net import free_port


# -- end-to-end: a real `flasker server` -----------------------------------------------------------
class ServerFailed(Exception):
    """The server exited or did not answer; the message carries its log."""


class LiveServer:
    """`flasker server` for a cfg in a subprocess on a free port, for end-to-end tests::

        with LiveServer("myproject/default.cfg") as server:
            page.goto(server.url + "/")

    Output goes to `log` (beside the cfg by default). `stop()` sends SIGTERM, as a terminal
    would, so the server stops its embedded worker itself.
    """

    def __init__(
        self,
        cfg: str | os.PathLike[str],
        *args: str,
        log: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cfg = Path(cfg)
        self.args = args
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log or self.cfg.parent / "server.log"
        self.process: Any = None

    def start(self, timeout: float = 40.0) -> LiveServer:
        command = [sys.executable, "-m", "flasker", "-c", str(self.cfg), "server"]
        command += ["--port", str(self.port), *self.args]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(f"flasker server exited early:\n{self.output()}")
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise ServerFailed(f"flasker server did not answer within {timeout:g} s:\n{self.output()}")

    def _answers(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            urllib.request.urlopen(self.url + "/", timeout=1).close()
        except urllib.error.HTTPError:
            return True  # any HTTP answer means it is up
        except (urllib.error.URLError, OSError):
            return False
        return True

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def embedded_worker_pid(self) -> int | None:
        """The pid of the worker the server started, from its start-up line."""
        for line in self.output().splitlines():
            if "embedded worker started (pid" in line:
                return int(line.split("(pid ")[1].rstrip(")"))
        return None

    def stop(self, grace: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def background(
    command: list[str],
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    new_session: bool = False,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `command` in the background for the block, output (both streams) to the file `log`.

    Afterwards a process still running is stopped with SIGTERM, as a terminal would (a worker
    then finishes warm), and killed when it has not exited 15 s later: a test that fails must
    not leave a worker consuming from a broker other tests share.

    The environment is this process's with `PYTHONUNBUFFERED=1` (so `log` is current while the
    test waits on it) and `env` on top, without `FLASKER_CONFIG`: a cfg the developer exported
    must not replace the one the command names.

    `new_session=True` starts the command in a session (and process group) of its own, so a
    fault test can `os.killpg(process.pid, signal.SIGKILL)` it with every child it forked.
    """
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    environment.pop("FLASKER_CONFIG", None)
    with Path(log).open("wb") as output:
        process = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
            start_new_session=new_session,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)


def worker_process(
    cfg: str | os.PathLike[str],
    log: Path,
    *args: str,
    pool: str = "solo",
    env: Mapping[str, str] | None = None,
    new_session: bool = False,
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    """`flasker -c CFG worker --pool solo --loglevel INFO ARGS...` under `background()`::

        with worker_process(cfg, tmp_path / "worker.log", "-n", "one@test") as process:
            wait_for(lambda: result.ready(), 60, what="the task's result", log=log)

    The solo pool runs tasks in the worker's own process (one process to start and stop);
    `pool="prefork"` with `"--concurrency", "1"` gives a pool that can grow and shrink.
    """
    command = [sys.executable, "-m", "flasker", "-c", str(cfg), "worker"]
    command += ["--pool", pool, "--loglevel", "INFO", *args]
    return background(command, log, env=env, new_session=new_session)


def log_tail(log: Path, lines: int = 40) -> str:
    """The last `lines` lines of a subprocess's log, for a failure message."""
    try:
        return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 20.0,
    *,
    what: str = "",
    log: Path | None = None,
    interval: float = 0.1,
    on_timeout: Callable[[str], Any] | None = None,
) -> Any:
    """Poll `condition` until it returns something truthy, and return that; after `timeout`
    seconds the test fails, naming `what` it waited for and showing the tail of `log` (the
    subprocess that should have made it true). A script outside pytest passes `on_timeout`,
    called with that message (it should raise), to fail its own way."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = f"; its log:\n{log_tail(log)}" if log is not None else ""
            message = f"timed out after {timeout:g} s waiting for {what or condition}{shown}"
            if on_timeout is not None:
                on_timeout(message)
            pytest.fail(message)
        time.sleep(interval)
