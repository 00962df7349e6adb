"""The events listener and a broker that goes away: the overview says so, the listener keeps
trying (kombu's `ensure_connection`), hears events again once the broker is back, and stops
promptly when asked, even in the middle of its pauses.

Redis is a server of the test's own, SIGKILLed and started again on the same port; RabbitMQ
(shared by other tests, so never restarted) is reached through a TCP relay the test cuts and
restores, which is what a restart looks like to its clients.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flasker.testing import RedisServer, wait_for

ConsoleSite = Any
HTMX = {"HX-Request": "true"}
WAIT = 30.0
ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.faults, pytest.mark.timeout(120)]


class Relay:
    """TCP relay from a free loopback port to `target_port`: `cut()` closes every connection
    and refuses new ones, `restore()` accepts them again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: socket.socket | None = None
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen()
        self.port = server.getsockname()[1]
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            doomed = [s for s in (self._server, *self._sockets) if s is not None]
            self._server, self._sockets = None, []
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:  # cut
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)


def listener_line(site: ConsoleSite) -> tuple[str, str]:
    """The overview's word on the listener: its state and the sentence a user reads."""
    body = site.get("/overview/tasks", headers=HTMX).get_data(as_text=True)
    found = re.search(r'data-testid="listener-state" data-state="(\w+)">(.*?)</p>', body)
    assert found is not None, body
    return found.group(1), re.sub(r"<[^>]+>", "", found.group(2))


def succeeded(site: ConsoleSite) -> int:
    body = site.get("/overview/tasks", headers=HTMX).get_data(as_text=True)
    found = re.search(r'data-testid="task-chart" data-succeeded="(\d+)"', body)
    assert found is not None, body
    return int(found.group(1))


def send_success(project: Any) -> None:
    """What a worker sends when a task succeeds, sent through the project's broker."""
    with project.celery.events.default_dispatcher(hostname="relay@test") as dispatcher:
        dispatcher.send("task-succeeded", uuid=str(uuid.uuid4()), result="1", runtime=0.1)


@pytest.fixture
def on_broker(
    make_console: Callable[..., ConsoleSite], sample_cfg: str
) -> Iterator[Callable[[str], ConsoleSite]]:
    """`on_broker(url)`: a console whose project's broker is `url`; its listener is stopped
    after the test."""
    sites: list[ConsoleSite] = []

    def make(url: str) -> ConsoleSite:
        site = make_console(cfg=sample_cfg + f"\n[CELERY]\nbroker_url = {url}\n")
        sites.append(site)
        return site

    yield make
    for site in sites:
        site.app.extensions["flasker_console"].stop_listener()


def listens_again_after(
    site: ConsoleSite, go_away: Callable[[], None], come_back: Callable[[], None], refused: str
) -> None:
    manager = site.app.extensions["flasker_console"]
    site.page("/")  # the first console request starts the listener
    listener = manager.event_listener()
    wait_for(lambda: listener.status().connected, WAIT, what="the listener to connect")
    first_since = listener.status().since
    assert listener_line(site)[0] == "listening"

    go_away()
    expected = (
        "reconnecting",
        f"Not receiving the workers' events: the broker did not answer ({refused}); trying again.",
    )
    wait_for(lambda: listener_line(site) == expected, WAIT, what=f"{expected} on the overview")
    assert listener.is_running
    assert listener.status().connected is False

    come_back()
    wait_for(lambda: listener.status().connected, WAIT, what="the listener to reconnect")
    status = listener.status()
    assert status.problem is None
    assert status.since is not None
    assert first_since is not None
    assert status.since >= first_since
    state, line = listener_line(site)
    assert state == "listening"
    assert line == f"Listening to the workers' events since {status.since:%H:%M:%S} UTC."
    # and it hears what the workers do again
    before = succeeded(site)
    send_success(site.project)
    wait_for(lambda: succeeded(site) == before + 1, WAIT, what="the chart to count the event")

    started = time.monotonic()
    manager.stop_listener()
    assert not listener.is_running
    assert time.monotonic() - started < 3


def test_the_listener_listens_again_after_redis_restarts(
    request: pytest.FixtureRequest, on_broker: Callable[[str], ConsoleSite], tmp_path: Path
) -> None:
    if shutil.which("redis-server") is None:
        root_conftest = request.config.pluginmanager.get_plugin(str(ROOT / "conftest.py"))
        root_conftest.service_missing("redis-server (the program)", FileNotFoundError())
    with RedisServer(tmp_path / "redis", persistent=False) as redis:
        site = on_broker(redis.url + "/0")
        refused = f"OperationalError: Error 111 connecting to 127.0.0.1:{redis.port}. "
        listens_again_after(site, redis.kill, redis.start, refused + "Connection refused.")


@pytest.mark.rabbitmq
def test_the_listener_listens_again_after_rabbitmq_comes_back(
    on_broker: Callable[[str], ConsoleSite], rabbitmq_url: str
) -> None:
    relay = Relay(target_port=5672)
    relay.restore()
    try:
        site = on_broker(rabbitmq_url.replace(":5672/", f":{relay.port}/"))
        refused = "OperationalError: [Errno 111] Connection refused"
        listens_again_after(site, relay.cut, relay.restore, refused)
    finally:
        relay.cut()


def test_a_listener_waiting_for_the_broker_stops_within_a_second(
    on_broker: Callable[[str], ConsoleSite],
) -> None:
    site = on_broker("redis://127.0.0.1:9/0")
    manager = site.app.extensions["flasker_console"]
    site.page("/")
    listener = manager.event_listener()
    refused = "OperationalError: Error 111 connecting to 127.0.0.1:9. Connection refused."
    wait_for(lambda: listener.status().problem == refused, WAIT, what="the broker problem")
    waiting = time.monotonic()  # kombu's pauses grow to seconds
    wait_for(lambda: time.monotonic() - waiting > 3, 5, what="a few failed attempts")
    assert listener.is_running
    assert listener.status().problem == refused
    started = time.monotonic()
    manager.stop_listener()
    assert not listener.is_running
    assert time.monotonic() - started < 1.5
