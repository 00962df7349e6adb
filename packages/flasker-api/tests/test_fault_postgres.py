"""PostgreSQL backends terminated under API load: 503s during the gap, nothing half written, and
recovery without a restart.

A real `flasker server --prod` (gunicorn, 2 processes of 4 threads) serves a project with the
API on a fresh PostgreSQL database. Client threads send pages, includes and POSTs of new rows
with unique keys, while an admin connection terminates every backend of that database
(`pg_terminate_backend`) again and again, with pool_pre_ping (the default) and without. Every
answer must be a success or a 503 with `Retry-After` (problem+json from the API, werkzeug's
page from the app's own views; never a 500, never a traceback, in the answer or the log).
Every POST answered 201 is stored exactly once, every POST answered "nothing of this request
was stored" is absent; one answered "may or may not be stored" (the connection died during its
COMMIT) is counted, stored or not. Once the kills stop, every request succeeds again with the
same server processes.

Figures (requests, 503s, recovery) are printed with `-s`. The tests after it check the same
answers in-process, one fault at a time.
"""

from __future__ import annotations

import collections
import itertools
import json
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from flasker import Project
from flasker.testing import LiveServer, close_project, restored_process_state, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

PROBLEM = "application/problem+json"
#: Kills of every backend of the project's database, a few requests apart.
KILLS = 25
#: Client threads sending requests all along.
CLIENTS = 4

MODELS = """
from sqlalchemy import Column, ForeignKey, Integer, Unicode
from sqlalchemy.orm import relationship

from flasker import current_project
from flasker.ext.api import APIManager
from flasker.util import Model

api = current_project.register_manager(APIManager(add_all_models=True))
app = current_project.app
db = current_project.db


class House(Model):
    id = Column(Integer, primary_key=True)
    address = Column(Unicode(128), nullable=False, unique=True)
    cats = relationship("Cat", back_populates="house", order_by="Cat.name")


class Cat(Model):
    name = Column(Unicode(64), primary_key=True)
    house_id = Column(ForeignKey("houses.id"))
    house = relationship("House", back_populates="cats")


@app.route("/houses")
def houses_page():
    return ", ".join(h.address for h in db.session.query(House).order_by(House.id).limit(5))


@app.post("/houses")
def add_house_page():
    from flask import request

    db.session.add(House(address=request.form["address"]))
    return "added", 201
"""

CFG = """\
[PROJECT]
NAME = Fault
MODULES = fault_models
DB_URL = {db_url}

[APP]
SECRET_KEY = ${{FAULT_SECRET_KEY}}
"""


@dataclass
class Answer:
    kind: str
    key: str | None
    status: int
    mimetype: str
    retry_after: str | None
    body: str
    at: float


@pytest.fixture
def served(
    postgres_url: str, tmp_path: Path, engine_cfg: str
) -> Iterator[tuple[LiveServer, sa.Engine]]:
    """`flasker server --prod` of the project on a fresh database, and an engine on it."""
    (tmp_path / "fault_models.py").write_text(MODELS, encoding="utf-8")
    cfg = tmp_path / "default.cfg"
    cfg.write_text(CFG.format(db_url=postgres_url) + engine_cfg, encoding="utf-8")
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    server = LiveServer(
        cfg,
        "--prod",
        "--workers",
        "2",
        "--no-worker",
        env={"FAULT_SECRET_KEY": uuid.uuid4().hex},
    )
    try:
        with server:
            with engine.connect() as connection:
                connection.execute(
                    sa.text("INSERT INTO houses (address) VALUES ('1 Main St'), ('2 Side St')")
                )
                connection.execute(sa.text("INSERT INTO cats (name, house_id) VALUES ('Tom', 1)"))
            yield server, engine
    finally:
        engine.dispose()


class Load:
    """Client threads sending a mix of reads and writes until stopped, keeping every answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[Answer] = []
        self.transport_errors: list[str] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(CLIENTS)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)

    def count(self) -> int:
        with self.lock:
            return len(self.answers)

    def since(self, index: int) -> list[Answer]:
        with self.lock:
            return self.answers[index:]

    def run(self, number: int) -> None:
        kinds = itertools.cycle(
            ["page", "include", "post_cat", "item", "post_house", "plain", "post_plain"]
        )
        with requests.Session() as http:
            for kind in kinds:
                if self.stopping.is_set():
                    return
                try:
                    answer = self.send(http, kind, number)
                except requests.RequestException as error:
                    with self.lock:
                        self.transport_errors.append(f"{kind}: {error}")
                    continue
                with self.lock:
                    self.answers.append(answer)

    def send(self, http: requests.Session, kind: str, number: int) -> Answer:
        key = None
        if kind == "page":
            response = http.get(f"{self.url}/api/houses/?limit=20", timeout=30)
        elif kind == "include":
            response = http.get(f"{self.url}/api/houses/?include=cats&limit=5", timeout=30)
        elif kind == "item":
            response = http.get(f"{self.url}/api/cats/Tom?include=house", timeout=30)
        elif kind == "plain":
            response = http.get(f"{self.url}/houses", timeout=30)
        elif kind == "post_plain":  # a view of the app, committed by flasker after it
            key = f"page-{number}-{uuid.uuid4().hex[:12]}"
            response = http.post(f"{self.url}/houses", data={"address": key}, timeout=30)
        elif kind == "post_cat":  # the API's one-statement INSERT … RETURNING
            key = f"cat-{number}-{uuid.uuid4().hex[:12]}"
            body = {"name": key, "house_id": 1}
            response = http.post(f"{self.url}/api/cats/", json=body, timeout=30)
        else:  # through the session (an include in the answer)
            key = f"house-{number}-{uuid.uuid4().hex[:12]}"
            response = http.post(
                f"{self.url}/api/houses/?include=cats", json={"address": key}, timeout=30
            )
        return Answer(
            kind,
            key,
            response.status_code,
            response.headers.get("Content-Type", "").split(";")[0],
            response.headers.get("Retry-After"),
            response.text,
            time.monotonic(),
        )


def terminate_backends(engine: sa.Engine, pid: int | None = None, wait: int = 0) -> int:
    """Terminate every other backend of the database (or only `pid`), waiting up to `wait` ms
    for each to be gone; return how many there were."""
    only = "" if pid is None else f" AND pid = {int(pid)}"
    with engine.connect() as connection:
        killed = connection.execute(
            sa.text(
                f"SELECT count(pg_terminate_backend(pid, {int(wait)})) FROM pg_stat_activity "
                f"WHERE datname = current_database() AND pid <> pg_backend_pid(){only}"
            )
        ).scalar_one()
    return int(killed)


@pytest.mark.slow
@pytest.mark.parametrize(
    "engine_cfg", ["", "[ENGINE]\npool_pre_ping = false\n"], ids=["pre-ping", "no-pre-ping"]
)
def test_api_answers_503_while_backends_are_terminated_and_recovers_by_itself(
    served: tuple[LiveServer, sa.Engine],
) -> None:
    server, engine = served
    backends_killed = 0
    kills: list[tuple[int, float]] = []  # (answers so far, when) at each kill
    with Load(server.url) as load:
        wait_for(lambda: load.count() >= 30, 60, what="the first answers", log=server.log)
        for _ in range(KILLS):
            kills.append((load.count(), time.monotonic()))
            backends_killed += terminate_backends(engine)
            # a few requests between kills, so some of them meet a dead connection
            _wait_for_answers(load, 8, server)
        # recovered: a run of 40 answers in a row, all successes, with the same server
        wait_for(
            lambda: _successes_in_a_row(load.since(kills[-1][0])) >= 40,
            60,
            what="40 successes in a row after the last kill",
            log=server.log,
        )
    answers = load.answers
    # each gap: from a kill to the last failure before the next kill
    bounds = [*(index for index, _ in kills[1:]), len(answers)]
    gaps = [
        max((a.at - at for a in answers[index:end] if a.status >= 400), default=0.0)
        for (index, at), end in zip(kills, bounds, strict=True)
    ]
    statuses = collections.Counter(a.status for a in answers)
    unavailable = [a for a in answers if a.status == 503]
    # every 503 tells the client one of two things
    nothing = [a for a in unavailable if "nothing of this request was stored" in a.body]
    doubt = [a for a in unavailable if "may or may not be stored" in a.body]
    assert len(nothing) + len(doubt) == len(unavailable), unavailable

    # what the client was told matches what the database holds
    stored = _stored_keys(engine)
    posted = [a for a in answers if a.key is not None]
    lost = [a.key for a in posted if a.status == 201 and stored[a.key] != 1]
    stored_anyway = [a.key for a in nothing if a.key is not None and stored[a.key]]
    doubted_posts = [a for a in doubt if a.key is not None]
    stored_after_doubt = [a.key for a in doubted_posts if stored[a.key]]
    duplicates = [key for key, count in stored.items() if count > 1]
    print(
        f"\nrequests {len(answers)} ({len(posted)} POSTs), "
        f"statuses {dict(sorted(statuses.items()))}, "
        f"kills {KILLS} ({backends_killed} backends terminated), "
        f"503s {len(unavailable)}: {len(nothing)} 'nothing stored' "
        f"({sum(a.key is not None for a in nothing)} POSTs), {len(doubt)} 'may be stored' "
        f"({len(doubted_posts)} POSTs, {len(stored_after_doubt)} of them stored), "
        f"recovery after a kill: median {statistics.median(gaps):.3f} s, "
        f"longest {max(gaps):.3f} s"
    )
    assert not load.transport_errors, load.transport_errors[:5]
    others = [a for a in answers if a.status not in (200, 201, 503)]
    assert not others, [(a.kind, a.status, a.body[:300]) for a in others[:5]]
    for answer in unavailable:
        assert answer.retry_after == "5", answer
        assert "Traceback" not in answer.body, answer.body
        if answer.kind in ("plain", "post_plain"):  # the app's pages: werkzeug's 503 page
            assert answer.mimetype == "text/html", answer
        else:
            assert answer.mimetype == PROBLEM, answer
            assert json.loads(answer.body)["status"] == 503
    assert unavailable, "no request met a terminated backend: the test proves nothing"
    assert not lost, f"answered 201 but not stored once: {lost[:5]}"
    assert not stored_anyway, f"answered 'nothing stored' but stored: {stored_anyway[:5]}"
    assert not duplicates, duplicates[:5]
    assert server.process.poll() is None, "the server exited"
    assert "Traceback" not in server.output(), server.output()[-3000:]


def _wait_for_answers(load: Load, more: int, server: LiveServer) -> None:
    seen = load.count()
    wait_for(lambda: load.count() >= seen + more, 60, what="answers", log=server.log)


def _stored_keys(engine: sa.Engine) -> collections.Counter[str]:
    """How many times each key the clients posted is stored (names and addresses are unique,
    so more than once would need a broken constraint)."""
    with engine.connect() as connection:
        names = connection.execute(sa.text("SELECT name FROM cats")).scalars().all()
        addresses = connection.execute(sa.text("SELECT address FROM houses")).scalars().all()
    return collections.Counter([*names, *addresses])


def _successes_in_a_row(answers: list[Answer]) -> int:
    run = 0
    for answer in reversed(answers):
        if answer.status >= 400:
            break
        run += 1
    return run


# -- one fault at a time, in-process ------------------------------------------------------------
@pytest.fixture
def api_project(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Project, sa.Engine]]:
    """The same project, started in this process (pre-ping off, so a pooled connection whose
    backend died reaches the view), seeded, and an admin engine on its database."""
    module = f"fault_models_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(MODELS, encoding="utf-8")
    cfg = tmp_path / "default.cfg"
    text = CFG.format(db_url=postgres_url).replace("fault_models", module)
    text = text.replace("${FAULT_SECRET_KEY}", "fault-secret")
    cfg.write_text(text + "[ENGINE]\npool_pre_ping = false\npool_timeout = 0.2\n", "utf-8")
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with restored_process_state():
        project = Project(cfg).start()
        try:
            with admin.connect() as connection:
                connection.execute(sa.text("INSERT INTO houses (address) VALUES ('1 Main St')"))
            yield project, admin
        finally:
            close_project(project)
            admin.dispose()


def _problem_503(response: object, *phrases: str) -> dict[str, object]:
    text = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 503, text  # type: ignore[attr-defined]
    assert response.mimetype == PROBLEM, text  # type: ignore[attr-defined]
    assert response.headers["Retry-After"] == "5"  # type: ignore[attr-defined]
    body = json.loads(text)
    assert body["status"] == 503
    for phrase in phrases:
        assert phrase in body["detail"], body
    return body


def _count(admin: sa.Engine, table: str) -> int:
    with admin.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize(
    "path", ["/api/houses/", "/api/houses/?include=cats", "/api/cats/?include=house"]
)
def test_a_read_meeting_a_terminated_backend_is_a_503_problem_then_works(
    api_project: tuple[Project, sa.Engine], path: str
) -> None:
    project, admin = api_project
    client = project.app.test_client()
    assert client.get(path).status_code == 200
    assert terminate_backends(admin, wait=5000) == 1
    _problem_503(client.get(path), "the connection to it was lost", "nothing")
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "table"),
    [
        ("/api/cats/", {"name": "Felix", "house_id": 1}, "cats"),  # one INSERT … RETURNING
        ("/api/houses/?include=cats", {"address": "2 Side St"}, "houses"),  # the session
    ],
)
def test_a_post_whose_commit_loses_the_connection_says_it_may_be_stored(
    api_project: tuple[Project, sa.Engine], path: str, body: dict[str, object], table: str
) -> None:
    project, admin = api_project
    before = _count(admin, table)
    killed: list[int] = []

    def terminate_before_commit(connection: sa.Connection) -> None:
        if not killed:
            pid = connection.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            killed.append(terminate_backends(admin, pid, wait=5000))

    sa.event.listen(project.db.engine, "commit", terminate_before_commit)
    client = project.app.test_client()
    _problem_503(client.post(path, json=body), "may or may not be stored")
    assert killed == [1]
    assert _count(admin, table) == before  # PostgreSQL never saw the COMMIT
    assert client.post(path, json=body).status_code == 201
    assert _count(admin, table) == before + 1


def test_a_post_meeting_a_terminated_backend_stored_nothing(
    api_project: tuple[Project, sa.Engine],
) -> None:
    project, admin = api_project
    client = project.app.test_client()
    assert client.get("/api/houses/").status_code == 200
    assert terminate_backends(admin, wait=5000) == 1
    response = client.post("/api/houses/?include=cats", json={"address": "3 Lost St"})
    _problem_503(response, "nothing of this request was stored")
    assert _count(admin, "houses") == 1


def test_a_full_pool_is_a_503_problem_not_a_conflict(
    api_project: tuple[Project, sa.Engine],
) -> None:
    project, admin = api_project
    engine = project.db.engine
    client = project.app.test_client()
    size = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    held = [engine.connect() for _ in range(size)]
    try:
        _problem_503(client.get("/api/houses/"), "no database connection was free in time")
        response = client.post("/api/cats/", json={"name": "Felix", "house_id": 1})
        _problem_503(response, "no database connection was free in time")
    finally:
        for connection in held:
            connection.close()
    assert _count(admin, "cats") == 0
    assert client.post("/api/cats/", json={"name": "Felix", "house_id": 1}).status_code == 201
