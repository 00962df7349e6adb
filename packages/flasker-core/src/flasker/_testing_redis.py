"""A Redis server of a test's own, which a fault test may crash and restart (see
`flasker.testing`, which re-exports it)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ._net import free_port
from ._testing_processes import wait_for


class RedisServer:
    """`redis-server` on `port` (a free one by default), its data in `folder`, for tests that
    kill and restart it (never the shared Redis other tests use)::

        server = RedisServer(tmp_path)
        server.start()
        server.kill()     # SIGKILL, as a crash would
        server.start()    # same port, same data
        server.stop()

    `persistent=True` (the default) keeps an append-only file fsynced on every write, so a
    SIGKILL loses nothing Redis acknowledged and queued messages survive a restart; False
    keeps nothing on disk, as the shared servers here are started.
    """

    def __init__(self, folder: Path, port: int | None = None, persistent: bool = True) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.persistent = persistent
        self.url = f"redis://127.0.0.1:{self.port}"
        self.log = self.folder / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> RedisServer:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        if self.persistent:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            command += ["--appendonly", "no"]
        command += ["--dir", str(self.folder), "--logfile", str(self.log)]
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_for(self.answers, timeout, what=f"redis-server on port {self.port}", log=self.log)
        return self

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for benchmarks that measure its CPU)."""
        return self.process.pid if self.process is not None else None

    def answers(self) -> bool:
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would: no chance to write anything more."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
