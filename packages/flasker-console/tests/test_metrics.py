"""The console's Prometheus metrics (metrics.py): tasks by name, worker and state, their events
and runtimes from the stored events (one query, on SQLite and PostgreSQL), workers online from
the heartbeats of a real worker, admins only (a session, or a scraper's metrics:read token that
opens nothing else), and no broadcast round started by a scrape."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event

from flasker.testing import wait_for, worker_process
from flasker_console.task_events import TaskEvent, store

#: A `ConsoleSite` (conftest.py); tests reach it through fixtures.
ConsoleSite = Any
WAIT = 60.0
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

#: (name, labels) → value of every sample.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def facts() -> list[TaskEvent]:
    """Six tasks on two workers, each stopped at a different state; runtimes 0.3, 2 and 12 s."""

    def at(seconds: float) -> datetime:
        return NOW + timedelta(seconds=seconds)

    return [
        TaskEvent("t1", "RECEIVED", at(0), "site.add", "w1@h"),
        TaskEvent("t1", "STARTED", at(1), None, "w1@h"),
        TaskEvent("t1", "SUCCESS", at(1.3), None, "w1@h"),
        TaskEvent("t2", "RECEIVED", at(0), "site.add", "w1@h"),
        TaskEvent("t2", "STARTED", at(2), None, "w1@h"),
        TaskEvent("t2", "FAILURE", at(4), None, "w1@h"),
        TaskEvent("t3", "RECEIVED", at(0), "site.add", "w2@h"),
        TaskEvent("t3", "STARTED", at(1), None, "w2@h"),
        TaskEvent("t4", "RECEIVED", at(0), "site.slow", "w1@h"),
        TaskEvent("t5", "RECEIVED", at(0), "site.slow", "w1@h"),
        TaskEvent("t5", "STARTED", at(1), None, "w1@h"),
        TaskEvent("t5", "RETRY", at(2), None, "w1@h"),
        # its task-received was never heard: no name
        TaskEvent("t6", "STARTED", at(10), None, "w2@h"),
        TaskEvent("t6", "SUCCESS", at(22), None, "w2@h"),
    ]


def samples(text: str, family: str) -> Samples:
    found: Samples = {}
    for metric in text_string_to_metric_families(text):
        if metric.name != family:
            continue
        for sample in metric.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def scrape(site: ConsoleSite) -> str:
    response = site.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type == CONTENT_TYPE_LATEST
    return str(response.get_data(as_text=True))


def tasks(task: str, worker: str, state: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return "flasker_console_tasks", (("state", state), ("task", task), ("worker", worker))


def runtime_of(text: str, task: str, worker: str) -> dict[str, float]:
    """The histogram of one task and worker: `le` → count, and `count`, `sum`."""
    found = {}
    for (name, labels), value in samples(text, "flasker_console_task_runtime_seconds").items():
        named = dict(labels)
        if named.get("task") != task or named.get("worker") != worker:
            continue
        key = named["le"] if name.endswith("_bucket") else name.rsplit("_", 1)[1]
        found[key] = value
    return found


def check_stored_figures(site: ConsoleSite) -> None:
    store(site.project, facts())
    text = scrape(site)
    assert "# TYPE flasker_console_tasks gauge" in text
    assert samples(text, "flasker_console_tasks") == {
        tasks("", "w2@h", "SUCCESS"): 1.0,
        tasks("site.add", "w1@h", "SUCCESS"): 1.0,
        tasks("site.add", "w1@h", "FAILURE"): 1.0,
        tasks("site.add", "w2@h", "STARTED"): 1.0,
        tasks("site.slow", "w1@h", "RECEIVED"): 1.0,
        tasks("site.slow", "w1@h", "RETRY"): 1.0,
    }

    def events(task: str, worker: str, kind: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        return "flasker_console_task_events", (("task", task), ("type", kind), ("worker", worker))

    assert samples(text, "flasker_console_task_events") == {
        events("", "w2@h", "task-started"): 1.0,
        events("", "w2@h", "task-succeeded"): 1.0,
        events("site.add", "w1@h", "task-received"): 2.0,
        events("site.add", "w1@h", "task-started"): 2.0,
        events("site.add", "w1@h", "task-succeeded"): 1.0,
        events("site.add", "w1@h", "task-failed"): 1.0,
        events("site.add", "w2@h", "task-received"): 1.0,
        events("site.add", "w2@h", "task-started"): 1.0,
        events("site.slow", "w1@h", "task-received"): 2.0,
        events("site.slow", "w1@h", "task-started"): 1.0,
        events("site.slow", "w1@h", "task-retried"): 1.0,
    }

    add = runtime_of(text, "site.add", "w1@h")  # 0.3 s and 2 s
    assert add.pop("sum") == pytest.approx(2.3, abs=0.01)
    assert add == {
        **dict.fromkeys(("0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25"), 0.0),
        **dict.fromkeys(("0.5", "0.75", "1.0"), 1.0),
        **dict.fromkeys(("2.5", "5.0", "7.5", "10.0", "+Inf"), 2.0),
        "count": 2.0,
    }
    unnamed = runtime_of(text, "", "w2@h")  # 12 s: beyond every bound
    assert unnamed.pop("sum") == pytest.approx(12.0, abs=0.01)
    assert unnamed["10.0"] == 0.0
    assert (unnamed["+Inf"], unnamed["count"]) == (1.0, 1.0)
    assert runtime_of(text, "site.add", "w2@h") == {}  # started, not finished: not timed
    # no listener (events=False) and no workers table yet: no worker is known
    assert samples(text, "flasker_console_worker_online") == {}
    assert samples(text, "flasker_console_workers_online") == {
        ("flasker_console_workers_online", ()): 0.0
    }


@pytest.fixture
def quiet(make_console: Callable[..., ConsoleSite]) -> ConsoleSite:
    """A console of its own without its listener: the test writes the facts itself."""
    return make_console(arguments="events=False")


def test_tasks_events_and_runtimes_from_the_stored_events(quiet: ConsoleSite) -> None:
    check_stored_figures(quiet)


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(
    make_console: Callable[..., ConsoleSite], postgres_url: str
) -> None:
    site = make_console(db_url=postgres_url, arguments="events=False")
    try:
        check_stored_figures(site)
    finally:
        site.project.db.dispose()


def test_a_scrape_is_one_query_however_many_tasks(quiet: ConsoleSite) -> None:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = quiet.project.db.engine
    scrape(quiet)  # the table is checked once per process: not counted
    event.listen(engine, "before_cursor_execute", count)
    try:
        scrape(quiet)
        few = len(statements)
        at = datetime.now(UTC)
        store(
            quiet.project,
            [TaskEvent(f"many-{n}", "RECEIVED", at, f"site.t{n % 7}", "w@h") for n in range(300)],
        )
        statements.clear()
        text = scrape(quiet)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert (few, len(statements)) == (1, 1)
    assert samples(text, "flasker_console_tasks")[tasks("site.t3", "w@h", "RECEIVED")] == 43.0


def test_an_empty_table_gives_empty_families(quiet: ConsoleSite) -> None:
    text = scrape(quiet)
    assert "# TYPE flasker_console_tasks gauge" in text
    assert "# TYPE flasker_console_task_runtime_seconds histogram" in text
    assert samples(text, "flasker_console_tasks") == {}


# -- who may scrape ---------------------------------------------------------------------------
def test_only_an_admin_reads_the_metrics(make_auth_console: Callable[..., ConsoleSite]) -> None:
    site = make_auth_console()
    anonymous = site.get("/metrics")
    assert anonymous.status_code == 302
    assert "/auth/login?next=" in anonymous.headers["Location"]

    assert site.client.get("/test-sign-in/viewer@example.test").get_data(as_text=True) == "viewer"
    viewer = site.get("/metrics")
    assert viewer.status_code == 403
    assert "flasker_console_tasks" not in viewer.get_data(as_text=True)

    site.client = site.app.test_client()
    assert site.client.get("/test-sign-in/admin@example.test").get_data(as_text=True) == "admin"
    assert "# TYPE flasker_console_tasks gauge" in scrape(site)


def make_token(site: ConsoleSite, email: str, role: str, scopes: str) -> str:
    """A token as `flasker auth token create` makes it, for a stored user with `role`."""
    from flasker_auth.tokens import create_token

    auth = site.app.extensions["flasker_auth"]
    with site.app.app_context():
        user = auth.find_user(email) or auth.record_sign_in(email)
        user.role = role
        token, _record = create_token(auth.db_session(), auth.models, user, [scopes], None)
        auth.db_session().commit()
    return token


def change(site: ConsoleSite, email: str, **values: Any) -> None:
    """Set columns of a stored user's row (`role=...`) or, with `token_revoked`, revoke all
    their tokens, as the CLI would."""
    from flasker_auth.models import utcnow

    auth = site.app.extensions["flasker_auth"]
    with site.app.app_context():
        session = auth.db_session()
        user = auth.find_user(email)
        if values.pop("token_revoked", False):
            for record in session.query(auth.models.ApiToken).filter_by(user_id=user.id):
                record.revoked = utcnow()
        for key, value in values.items():
            setattr(user, key, value)
        session.commit()


def bearer(token: str) -> dict[str, str]:
    """What a Prometheus scraper (or curl) sends: no cookie, no Accept preference."""
    return {"Authorization": f"Bearer {token}"}


def test_a_scraper_reads_the_metrics_with_a_metrics_token(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    site = make_auth_console()
    store(site.project, facts())
    token = make_token(site, "admin@example.test", "admin", "metrics:read")
    scraper = site.app.test_client(use_cookies=False)

    response = scraper.get(site.url("/metrics"), headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type == CONTENT_TYPE_LATEST
    text = response.get_data(as_text=True)
    assert samples(text, "flasker_console_tasks")[tasks("site.add", "w1@h", "SUCCESS")] == 1.0
    assert "Set-Cookie" not in response.headers  # signed in for this request only
    # Prometheus' own Accept header, and HEAD, answer the same way
    accept = "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4"
    headers = {**bearer(token), "Accept": accept + ",*/*;q=0.1"}
    assert scraper.get(site.url("/metrics"), headers=headers).status_code == 200
    assert scraper.head(site.url("/metrics"), headers=bearer(token)).status_code == 200

    anonymous = scraper.get(site.url("/metrics"))
    assert anonymous.status_code != 200
    assert "flasker_console_tasks" not in anonymous.get_data(as_text=True)


def test_a_metrics_token_opens_no_other_console_page(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    site = make_auth_console()
    token = make_token(site, "admin@example.test", "admin", "metrics:read")
    scraper = site.app.test_client(use_cookies=False)
    for path in ("/", "/config", "/tasks", "/workers", "/status"):
        response = scraper.get(site.url(path), headers=bearer(token))
        assert response.status_code in (302, 401), (path, response.status_code)
    # nor may it change anything, even sent as a form from this site
    refused = scraper.post(site.url("/tasks"), headers=bearer(token), data={"name": "x"})
    assert refused.status_code in (302, 401, 403), refused.status_code


def test_a_token_without_the_metrics_scope_is_refused_with_403(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    site = make_auth_console()
    token = make_token(site, "admin@example.test", "admin", "api:read")
    response = site.app.test_client(use_cookies=False).get(
        site.url("/metrics"), headers=bearer(token)
    )
    assert response.status_code == 403, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"
    detail = response.get_json()["detail"]
    assert "lacks the metrics:read scope" in detail, detail
    assert "it has: api:read" in detail, detail
    assert "flasker_console_tasks" not in response.get_data(as_text=True)


def test_a_revoked_or_unknown_metrics_token_gets_401(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    site = make_auth_console()
    token = make_token(site, "admin@example.test", "admin", "metrics:read")
    scraper = site.app.test_client(use_cookies=False)
    assert scraper.get(site.url("/metrics"), headers=bearer(token)).status_code == 200
    change(site, "admin@example.test", token_revoked=True)
    revoked = scraper.get(site.url("/metrics"), headers=bearer(token))
    assert revoked.status_code == 401
    assert revoked.mimetype == "application/problem+json"
    assert "revoked" in revoked.get_json()["detail"]
    assert revoked.headers["WWW-Authenticate"].startswith("Bearer")
    unknown = scraper.get(site.url("/metrics"), headers=bearer("fla_" + "x" * 43))
    assert unknown.status_code == 401
    assert "not valid" in unknown.get_json()["detail"]


def test_a_metrics_token_of_a_demoted_admin_gets_403(
    make_auth_console: Callable[..., ConsoleSite],
) -> None:
    site = make_auth_console()
    token = make_token(site, "admin@example.test", "admin", "metrics:read")
    scraper = site.app.test_client(use_cookies=False)
    assert scraper.get(site.url("/metrics"), headers=bearer(token)).status_code == 200
    change(site, "admin@example.test", role="viewer")
    demoted = scraper.get(site.url("/metrics"), headers=bearer(token))
    assert demoted.status_code == 403
    assert demoted.mimetype == "application/problem+json"
    assert "viewer" in demoted.get_json()["detail"]
    change(site, "admin@example.test", role="admin")
    assert scraper.get(site.url("/metrics"), headers=bearer(token)).status_code == 200


# -- a real worker ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def running(
    make_console: Callable[..., ConsoleSite],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ConsoleSite, subprocess.Popen[bytes], Path]]:
    site = make_console(arguments="inspect_timeout=1.5")
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with worker_process(site.cfg, log) as process:
        yield site, process, log


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_workers_online_from_heartbeats_and_pools_from_the_last_round(
    running: tuple[ConsoleSite, subprocess.Popen[bytes], Path],
) -> None:
    site, _, log = running
    roster = site.app.extensions["flasker_console"].workers_roster()

    def online() -> dict[str, float] | None:
        found = samples(scrape(site), "flasker_console_worker_online")
        return {dict(labels)["worker"]: value for (_, labels), value in found.items()} or None

    workers = wait_for(online, WAIT, what="a worker online in the metrics", log=log)
    [hostname] = workers
    assert workers == {hostname: 1.0}
    rounds = roster.rounds
    for _ in range(3):
        text = scrape(site)
    assert roster.rounds == rounds  # a scrape never asks the workers
    assert samples(text, "flasker_console_workers_online") == {
        ("flasker_console_workers_online", ()): 1.0
    }
    assert samples(text, "flasker_console_events_connected") == {
        ("flasker_console_events_connected", ()): 1.0
    }

    # the workers page asks them; its table's pool size then shows in the metrics
    def pool() -> Samples | None:
        site.page("/workers")
        return samples(scrape(site), "flasker_console_worker_pool_size") or None

    assert wait_for(pool, WAIT, what="the pool size in the metrics", log=log) == {
        ("flasker_console_worker_pool_size", (("worker", hostname),)): 1.0
    }
