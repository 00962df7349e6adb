"""A view that sends a task while the broker is away answers 503 naming the broker, quickly.

Found by the Redis-restart fault test (flasker-console's test_fault_redis_restart.py): a view
calling `task.delay()` while Redis was down held the request ~19 s (Celery's Redis result
backend retried subscribing to the result 20 times, a second apart) and then answered a 500
whose log said "The Celery application must be restarted". The broker here is a port nothing
listens on: the same errors, without stopping a server.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flasker import Project
from flasker._net import free_port
from flasker.celery_app import RESULT_SUBSCRIBE_RETRY

from ._project_helpers import unique

CFG = """
[PROJECT]
NAME = BrokerDown
MODULES = {module}

[CELERY]
broker_url = redis://127.0.0.1:{port}/0
{backend}
"""

SOURCE = """
from flasker import current_project

app = current_project.app
celery = current_project.celery


@celery.task
def ping():
    return "pong"


@app.post("/send")
def send():
    return {"id": ping.delay().id}


@app.get("/state/<task_id>")
def state(task_id):
    return {"state": celery.AsyncResult(task_id).state}


@app.get("/other-runtime-error")
def other():
    raise RuntimeError("a bug of the view's own")
"""

#: Before the fix: ~19 s. Now about 1.5 s of retries; generous for a loaded machine.
PROMPT = 10.0


def make(make_project: Callable[..., Project], redis_results: bool = True) -> Project:
    """A project whose broker (and result backend) is a free port: nothing listens there."""
    module = unique("broker_down")
    port = free_port()
    backend = f"result_backend = redis://127.0.0.1:{port}/1" if redis_results else ""
    return make_project(CFG.format(module=module, port=port, backend=backend), {module: SOURCE})


def test_sending_a_task_while_redis_is_down_answers_503_quickly(
    make_project: Callable[..., Project],
) -> None:
    project = make(make_project)
    client = project.app.test_client()
    started = time.monotonic()
    response = client.post("/send")
    elapsed = time.monotonic() - started
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    text = response.get_data(as_text=True)
    assert "task broker (redis) is unavailable" in text
    assert "no task was sent" in text
    assert "127.0.0.1" not in text  # no host or port reaches the browser
    assert elapsed < PROMPT, f"the request took {elapsed:.1f} s"
    # the web process's subscription to results gives up after a few tries (workers keep
    # Celery's policy for their result writes: they never subscribe)
    ensure = project.celery.backend.result_consumer._ensure
    assert ensure.keywords == RESULT_SUBSCRIBE_RETRY


def test_publishing_to_a_dead_broker_answers_503(make_project: Callable[..., Project]) -> None:
    """No Redis result backend: the error is kombu's, from publishing."""
    project = make(make_project, redis_results=False)
    response = project.app.test_client().post("/send")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert "task broker (redis) is unavailable" in response.get_data(as_text=True)


def test_other_runtime_errors_stay_500(make_project: Callable[..., Project]) -> None:
    project = make(make_project)
    project.app.testing = False  # a 500 page, not the exception raised into the test
    response = project.app.test_client().get("/other-runtime-error")
    assert response.status_code == 500


def test_reading_a_result_while_redis_is_down_answers_503(
    make_project: Callable[..., Project],
) -> None:
    """Regression (review): Celery's Redis result backend raises the Redis client's own
    ConnectionError unwrapped, and its class was only handled when `redis` happened to be
    imported before the app was made: a page showing a task's state answered 500."""
    project = make(make_project)
    response = project.app.test_client().get("/state/0b5e0000-0000-4000-8000-000000000000")
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    assert "task broker (redis) is unavailable" in response.get_data(as_text=True)
