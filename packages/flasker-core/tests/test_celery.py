"""`project.celery`: Celery configured from [CELERY] (old and new names), the embedded on-disk
broker by default, and tasks that run in the app context and finish `db.session` like a request.

Tasks run in-process here (`apply`, which goes through the same task class a worker uses); real
worker subprocesses are in test_worker.py.
"""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from celery.schedules import crontab
from sqlalchemy import select

from flasker import ConfigError, current_project

from ._project_helpers import models_source, unique


def _project(make_project, celery: str = "", extra_modules: dict[str, str] | None = None):
    module = unique("tasks")
    listed = ", ".join([module, *(extra_modules or {})])
    cfg = f"[PROJECT]\nNAME = celery-test\nMODULES = {listed}\n"
    if celery:
        cfg += f"[CELERY]\n{celery}\n"
    project = make_project(cfg, {module: models_source(), **(extra_modules or {})})
    return project, sys.modules[module]


def _addresses(project, module) -> list[str]:
    with project.db.Session() as session:
        return sorted(session.scalars(select(module.House.address)))


# -- tasks and the database ---------------------------------------------------------------------
def test_task_writes_through_db_session_and_commits(make_project) -> None:
    project, module = _project(make_project)
    result = module.add_house_task.apply(args=("1 Main St",))
    assert result.successful()
    assert result.result == 1
    assert _addresses(project, module) == ["1 Main St"]
    assert not project.db.session.registry.has()


def test_failing_task_rolls_back(make_project) -> None:
    project, module = _project(make_project)
    result = module.add_house_task.apply(args=("doomed",), kwargs={"fail": True})
    assert result.failed()
    assert isinstance(result.result, ValueError)
    assert _addresses(project, module) == []
    assert not project.db.session.registry.has()
    # the next task starts clean
    assert module.add_house_task.apply(args=("next",)).result == 1


def test_task_runs_in_the_app_context(make_project) -> None:
    probe = unique("probe")
    source = """
        from flask import current_app, g
        from flasker import current_project

        celery = current_project.celery

        @celery.task(name="probe")
        def probe():
            g.touched = True
            return [current_app.name, current_project.config.name]
    """
    project, _ = _project(make_project, extra_modules={probe: source})
    project.deactivate()  # the worker has no active project; the app context must be enough
    result = project.celery.tasks["probe"].apply()
    assert result.result == [project.app.name, "celery-test"]


def test_task_called_from_a_request_joins_the_request(make_project) -> None:
    project, module = _project(make_project)

    @project.app.post("/sync")
    def sync():
        house = module.House(address="from the view")
        project.db.session.add(house)
        count = module.add_house_task("from the task")
        # the view's objects are still usable after the task returns
        return {"count": count, "address": house.address}

    @project.app.post("/sync-fail")
    def sync_fail():
        project.db.session.add(module.House(address="view"))
        module.add_house_task("task")
        return "no", 409

    client = project.app.test_client()
    assert client.post("/sync").json == {"count": 2, "address": "from the view"}
    assert _addresses(project, module) == ["from the task", "from the view"]
    # an error response rolls back the task's work too: it was one unit of work
    assert client.post("/sync-fail").status_code == 409
    assert _addresses(project, module) == ["from the task", "from the view"]


def test_task_calling_a_task_is_one_unit_of_work(make_project) -> None:
    chain = unique("chain")
    source = """
        from flasker import current_project
        from {module} import add_house_task

        @current_project.celery.task(name="two_houses")
        def two_houses(fail=False):
            add_house_task("first")
            add_house_task("second", fail=fail)
    """
    module = unique("tasks")
    project = make_project(
        f"[PROJECT]\nMODULES = {module}, {chain}\n",
        {module: models_source(), chain: source.replace("{module}", module)},
    )
    houses = sys.modules[module]
    assert project.celery.tasks["two_houses"].apply(kwargs={"fail": True}).failed()
    assert _addresses(project, houses) == []
    assert project.celery.tasks["two_houses"].apply().successful()
    assert _addresses(project, houses) == ["first", "second"]


def test_without_autocommit_tasks_do_not_commit(make_project) -> None:
    module = unique("nocommit")
    project = make_project(
        f"[PROJECT]\nMODULES = {module}\nAUTOCOMMIT = false\n", {module: models_source()}
    )
    houses = sys.modules[module]
    assert houses.add_house_task.apply(args=("x",)).result == 1
    assert _addresses(project, houses) == []


def test_current_project_is_the_project_in_tasks(make_project) -> None:
    project, module = _project(make_project)
    with project.app.app_context():
        assert current_project._get_current_object() is project
    assert project.celery.main == module.__name__


# -- configuration ------------------------------------------------------------------------------
def test_old_and_new_names_reach_the_celery_config(make_project, tmp_path) -> None:
    project, _ = _project(
        make_project,
        "BROKER_URL = redis://127.0.0.1:6379/9\n"
        "CELERY_RESULT_BACKEND = redis://127.0.0.1:6379/10\n"
        "CELERYD_CONCURRENCY = 3\n"
        "task_default_queue = houses\n"
        "CELERY_TASK_SERIALIZER = json\n"
        "worker_prefetch_multiplier = 1\n",
    )
    conf = project.celery.conf
    assert conf.broker_url == "redis://127.0.0.1:6379/9"
    assert conf.result_backend == "redis://127.0.0.1:6379/10"
    assert conf.worker_concurrency == 3
    assert conf.task_default_queue == "houses"
    assert conf.task_serializer == "json"
    assert conf.worker_prefetch_multiplier == 1
    # flasker's defaults, and no embedded broker files with a real broker
    assert conf.task_track_started is True
    assert conf.result_extended is True
    assert not (tmp_path / ".flasker" / "broker").exists()


def test_cfg_overrides_flasker_defaults(make_project) -> None:
    project, _ = _project(make_project, "task_track_started = false")
    assert project.celery.conf.task_track_started is False


def test_two_spellings_of_one_setting_is_an_error(make_project) -> None:
    with pytest.raises(ConfigError, match=r"BROKER_URL.*same setting"):
        _project(make_project, "broker_url = memory://\nBROKER_URL = memory://")


def test_embedded_defaults_live_under_the_project_folder(make_project, tmp_path) -> None:
    project, _ = _project(make_project)
    conf = project.celery.conf
    state = tmp_path / ".flasker"
    assert project.config.is_embedded_broker
    assert conf.broker_url.startswith("filesystem://")
    # kombu's filesystem transport with the broker state kept per project (see _fsbroker)
    assert conf.broker_transport == "flasker._fsbroker:Transport"
    options = conf.broker_transport_options
    assert (
        options["data_folder_in"] == options["data_folder_out"] == str(state / "broker" / "queue")
    )
    assert options["control_folder"] == str(state / "broker" / "control")
    for folder in ("queue", "control", "processed"):
        assert (state / "broker" / folder).is_dir()
    assert conf.result_backend == f"db+sqlite:///{state / 'results.sqlite'}"
    assert conf.beat_schedule_filename == str(state / "celerybeat-schedule")


def test_embedded_broker_delivers_a_task_message_to_the_queue_folder(make_project, tmp_path):
    project, module = _project(make_project)
    result = module.add_house_task.delay("queued")
    queue = tmp_path / ".flasker" / "broker" / "queue"
    messages = [p.name for p in queue.iterdir()]
    assert len(messages) == 1
    assert messages[0].endswith(".celery.msg")
    assert result.status == "PENDING"
    # nothing ran: no worker
    assert _addresses(project, module) == []


def test_beat_schedule_is_parsed(make_project) -> None:
    schedule = (
        '{"census": {"task": "count_houses", "schedule": 30},'
        ' "nightly": {"task": "add_house", "schedule": "0 3 * * 1-5", "args": ["night"]}}'
    )
    project, _ = _project(make_project, f"beat_schedule = {schedule}")
    entries = project.celery.conf.beat_schedule
    assert entries["census"]["schedule"] == 30
    nightly = entries["nightly"]["schedule"]
    assert isinstance(nightly, crontab)
    assert nightly.hour == {3}
    assert nightly.minute == {0}
    assert nightly.day_of_week == {1, 2, 3, 4, 5}
    assert entries["nightly"]["args"] == ["night"]
    # beat can compute when it is due
    assert isinstance(nightly.remaining_estimate(nightly.now()), timedelta)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('["census"]', "expected a JSON object"),
        ('{"census": {"task": "x"}}', "needs at least 'task' and 'schedule'"),
        ('{"census": {"task": "x", "schedule": "* * *"}}', "neither seconds nor a 5-field cron"),
        ('{"census": {"task": "x", "schedule": "99 * * * *"}}', "bad cron"),
        ('{"census": {"task": "x", "schedule": -5}}', "positive seconds"),
        ('{"census": {"task": "x", "schedule": true}}', "positive seconds"),
    ],
)
def test_bad_beat_schedule_names_the_entry_and_line(make_project, value, problem) -> None:
    with pytest.raises(ConfigError, match=problem) as raised:
        _project(make_project, f"task_track_started = true\nbeat_schedule = {value}")
    assert raised.value.key == "beat_schedule"
    assert raised.value.line == 6


def test_shared_task_in_a_project_module_uses_the_projects_broker(make_project) -> None:
    """`@shared_task` (Celery's own idiom) must not send to Celery's default amqp broker."""
    module = unique("shared")
    source = """
        from celery import shared_task

        @shared_task
        def multiply(x, y):
            return x * y
    """
    project = make_project(f"[PROJECT]\nMODULES = {module}\n", {module: source})
    task = sys.modules[module].multiply
    assert task.app is project.celery
    assert task.app.conf.broker_url.startswith("filesystem://")
    assert task.apply(args=(6, 7)).result == 42
