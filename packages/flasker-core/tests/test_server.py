"""`flasker server` as a user runs it: a real subprocess, real HTTP, a real embedded worker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flasker.testing import LiveServer, ServerFailed, background, free_port, wait_for

from ._project_helpers import flasker_command

pytestmark = pytest.mark.slow

APP = '''
from flasker import Manager, current_project
from flasker.util import Model
from sqlalchemy import Column, Integer, String

app = current_project.app
celery = current_project.celery


class Announcer(Manager):
    def on_serve(self, project, serving):
        print(f"on_serve loopback={serving.is_loopback} prod={serving.prod}", flush=True)
        print(f"on_serve port={serving.port}", flush=True)


current_project.register_manager(Announcer())


class Note(Model):
    id = Column(Integer, primary_key=True)
    text = Column(String(100))


@celery.task
def write_note(text):
    """Write a note through db.session (committed because the task succeeds)."""
    current_project.session.add(Note(text=text))
    return text.upper()


@app.route("/")
def index():
    return {"notes": [n.text for n in current_project.session.query(Note).order_by(Note.id)]}


@app.route("/send/<text>", methods=["POST"])
def send(text):
    return {"id": write_note.delay(text).id}


@app.route("/result/<task_id>")
def result(task_id):
    outcome = celery.AsyncResult(task_id)
    return {"state": outcome.state, "result": outcome.result if outcome.ready() else None}


@app.route("/login")
def login():
    from flask import session
    session["seen"] = True
    return {"ok": True}


@app.route("/boom")
def boom():
    raise RuntimeError("secret internals")
'''


def make_project(folder: Path, module: str, cfg_extra: str = "") -> Path:
    (folder / module).mkdir(parents=True)
    (folder / module / "__init__.py").write_text(APP)
    cfg = folder / "default.cfg"
    cfg.write_text(
        textwrap.dedent(f"""
        [PROJECT]
        NAME = {module}
        MODULES = {module}
        """)
        + cfg_extra
    )
    return cfg


def get(url: str, method: str = "GET", timeout: float = 5) -> tuple[int, dict | str]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read().decode(), error.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


@pytest.fixture
def server_factory() -> Iterator[Callable[..., LiveServer]]:
    servers: list[LiveServer] = []

    def start(cfg: Path, *args: str, env: dict[str, str] | None = None) -> LiveServer:
        server = LiveServer(cfg, *args, env=env)
        servers.append(server)
        try:
            return server.start()
        except ServerFailed as error:
            pytest.fail(str(error), pytrace=False)

    yield start
    for server in servers:
        server.stop()


def worker_pid(server: LiveServer) -> int:
    pid = server.embedded_worker_pid()
    if pid is None:
        pytest.fail(f"no embedded worker in the log:\n{server.output()}")
    return pid


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is gone for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_task(server: LiveServer, task_id: str, timeout: float = 30) -> dict:
    outcome: dict = {}

    def done() -> bool:
        nonlocal outcome
        _status, outcome = get(f"{server.url}/result/{task_id}")
        return outcome["state"] in {"SUCCESS", "FAILURE"}

    wait_for(done, timeout=timeout, what=f"task {task_id}")
    return outcome


def test_embedded_server_runs_a_task_that_writes_through_the_session(tmp_path, server_factory):
    cfg = make_project(tmp_path, "srv_embedded")
    server = server_factory(cfg)

    status, body = get(server.url + "/")
    assert (status, body) == (200, {"notes": []})
    # managers hear how the app is served (flasker-auth's development sign-in link needs it)
    assert "on_serve loopback=True prod=False" in server.output()

    status, sent = get(server.url + "/send/hello", method="POST")
    assert status == 200
    assert wait_task(server, sent["id"]) == {"state": "SUCCESS", "result": "HELLO"}
    assert get(server.url + "/")[1] == {"notes": ["hello"]}
    # the embedded database, broker and result store live beside the cfg
    assert (tmp_path / "db.sqlite").is_file()
    assert (tmp_path / ".flasker" / "results.sqlite").is_file()


def test_errors_never_show_a_traceback_to_the_browser(tmp_path, server_factory):
    server = server_factory(make_project(tmp_path, "srv_errors"), "--no-worker")
    status, body = get(server.url + "/boom")
    assert status == 500
    assert "secret internals" not in str(body)
    assert "Traceback" not in str(body)


def test_stopping_the_server_stops_its_worker(tmp_path, server_factory):
    server = server_factory(make_project(tmp_path, "srv_stop"))
    worker = worker_pid(server)
    assert pid_alive(worker)
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(20)
    wait_for(lambda: not pid_alive(worker), timeout=20, what="the worker to stop with the server")


def test_worker_stops_itself_when_the_server_is_killed(tmp_path, server_factory):
    server = server_factory(make_project(tmp_path, "srv_killed"))
    worker = worker_pid(server)
    server.process.kill()  # no clean-up runs in the server
    server.process.wait()
    wait_for(lambda: not pid_alive(worker), timeout=25, what="the orphaned worker to stop")


def test_no_worker_flag_leaves_tasks_queued(tmp_path, server_factory):
    server = server_factory(make_project(tmp_path, "srv_noworker"), "--no-worker")
    assert "embedded worker started" not in server.output()
    _status, sent = get(server.url + "/send/queued", method="POST")
    time.sleep(2)
    assert get(f"{server.url}/result/{sent['id']}")[1]["state"] == "PENDING"


PROD_SECRET = "\n[APP]\nSECRET_KEY = ${APP_SECRET:-shared-by-every-checkout}\n"


def test_prod_mode_serves_with_gunicorn_and_secure_cookies(tmp_path, server_factory):
    cfg = make_project(tmp_path, "srv_prod", PROD_SECRET)
    home = tmp_path / "home"
    environment = {"APP_SECRET": "s" * 32, "HOME": str(home), "XDG_RUNTIME_DIR": ""}
    server = server_factory(cfg, "--prod", "--workers", "2", "--no-worker", env=environment)
    assert get(server.url + "/") == (200, {"notes": []})
    assert "gunicorn" in server.output().lower()
    # no gunicorn control socket in ~/.gunicorn: a second server on the host would take it
    # over, and delete it when it stops
    assert not (home / ".gunicorn").exists()
    with urllib.request.urlopen(server.url + "/login", timeout=5) as response:
        cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


@pytest.mark.parametrize(
    ("cfg_extra", "env", "message"),
    [
        ("", {}, "--prod needs a SECRET_KEY"),
        (PROD_SECRET, {}, "refuses the default SECRET_KEY written in"),
        (PROD_SECRET, {"APP_SECRET": "short"}, "shorter than 16 characters"),
    ],
)
def test_prod_mode_refuses_a_missing_default_or_short_secret(tmp_path, cfg_extra, env, message):
    cfg = make_project(tmp_path, "srv_secret", cfg_extra)
    result = subprocess.run(
        flasker_command(cfg, "server", "--prod", "--no-worker", "--port", str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.redis
def test_server_with_a_broker_server_starts_no_embedded_worker(tmp_path, server_factory, redis_url):
    cfg = make_project(
        tmp_path,
        "srv_redis",
        f"\n[CELERY]\nBROKER_URL = {redis_url}\nCELERY_RESULT_BACKEND = {redis_url}\n",
    )
    server = server_factory(cfg)
    log = server.output()
    assert "embedded worker started" not in log
    assert "start workers with 'flasker worker'" in log


def test_flower_runs_on_the_embedded_broker_under_a_prefix(tmp_path) -> None:
    cfg = make_project(tmp_path, "srv_flower")
    port = free_port()
    command = flasker_command(cfg, "flower", "--port", str(port), "--url-prefix", "flower")
    with background(command, tmp_path / "flower.log"):

        def health() -> tuple[int, dict | str] | None:
            try:
                return get(f"http://127.0.0.1:{port}/flower/healthcheck", timeout=1)
            except (urllib.error.URLError, OSError):
                return None

        assert wait_for(health, timeout=30, what="flower to answer") == (200, "OK")


def test_port_0_serves_on_the_port_managers_are_told(tmp_path) -> None:
    cfg = make_project(tmp_path, "srv_port0")
    log = tmp_path / "port0.log"
    with background(flasker_command(cfg, "server", "--port", "0", "--no-worker"), log):

        def announced() -> int | None:
            text = log.read_text() if log.exists() else ""
            for line in text.splitlines():
                if line.startswith("on_serve port="):
                    return int(line.split("=")[1])
            return None

        port = wait_for(announced, timeout=30, what="the announced port")
        assert port != 0

        def answers() -> tuple[int, dict | str] | None:
            try:
                return get(f"http://127.0.0.1:{port}/", timeout=1)
            except (urllib.error.URLError, OSError):
                return None

        assert wait_for(answers, timeout=30, what="the server on that port") == (200, {"notes": []})
