"""Building the project's Celery app from `[CELERY]`, with tasks that run in the app context.

Every task runs inside the Flask app context and ends its unit of work like a request does:
commit `db.session` on success when AUTOCOMMIT is on, roll back on error, always remove the
session. With no `broker_url` the project uses the embedded on-disk broker (see `_fsbroker`).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING, Any, Protocol

from celery import Celery, Task
from celery.schedules import crontab

from ._fsbroker import BrokerFolders

if TYPE_CHECKING:
    from flask import Flask

    from .config import Config
    from .db import Database


class Project(Protocol):
    """What the Celery app needs of a `flasker.project.Project`, which builds it (so this module
    does not import that one back): its cfg, and the app and database a task runs with."""

    @property
    def config(self) -> Config: ...

    @property
    def app(self) -> Flask: ...

    @property
    def db(self) -> Database: ...


#: Defaults flasker sets unless the cfg says otherwise: the console shows STARTED and
#: arguments, a worker started before its broker keeps retrying instead of crashing, monitors
#: see task events without `-E`, and no task is lost when a worker dies (at-least-once).
DEFAULTS: dict[str, Any] = {
    "task_track_started": True,
    "result_extended": True,
    "broker_connection_retry_on_startup": True,
    # task events on by default: Flower and the console show tasks as they run
    "worker_send_task_events": True,
    "task_send_sent_event": True,
    # At-least-once. A task's message is acknowledged when the task has finished, not when a
    # worker fetched it, so a worker killed mid-task (OOM killer, SIGKILL, power loss) leaves
    # it to be delivered again: Redis re-queues it after `visibility_timeout` (kombu's default,
    # an hour, kept on purpose: a task running or waiting for its ETA longer than that would
    # be run twice), the embedded broker when a worker starts or within 10 s while one runs
    # (any worker consuming with acknowledgements puts back a dead consumer's claim), RabbitMQ
    # at once. A task that raises is still acknowledged (failed, not retried).
    "task_acks_late": True,
    # A pool process that dies mid-task (the worker lives on) re-queues the task...
    "task_reject_on_worker_lost": True,
    # ...as a retry: after the task's default_retry_delay, at most max_retries times, then
    # FAILURE (WorkerLostError). A "poison" task that kills its process every time stops
    # there instead of looping forever. (One that kills the whole worker is redelivered at
    # each restart: the broker has no counter for that.)
    "task_retry_on_worker_lost": True,
}


def make_celery(project: Project) -> Celery:
    config = project.config

    unit_of_work = threading.local()

    class ProjectTask(Task):  # type: ignore[misc]  # celery ships no type information
        """Runs inside the project's app context and finishes its db session like a request.

        A task called directly from a view or from another task (or eagerly) is part of its
        caller's unit of work: the caller commits or rolls back, and its session stays usable.
        """

        abstract = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            if getattr(unit_of_work, "active", False) or _in_request_of(project):
                return super().__call__(*args, **kwargs)
            unit_of_work.active = True
            try:
                with project.app.app_context():
                    try:
                        result = super().__call__(*args, **kwargs)
                    except BaseException:
                        project.db.finish(success=False)
                        raise
                    project.db.finish(success=True)
                    return result
            finally:
                unit_of_work.active = False

    celery = ProjectCelery(
        main=_main_name(project), task_cls=ProjectTask, set_as_current=False, autofinalize=True
    )
    settings: dict[str, Any] = dict(DEFAULTS)
    if config.is_embedded_broker:
        folders = BrokerFolders(config.state_folder)
        folders.create()
        settings.update(folders.celery_settings())
    settings.update(config.celery)
    if _is_redis_url(settings.get("broker_url")) and "broker_transport" not in settings:
        # puts back what a worker had fetched when Redis restarted (see _redis_transport)
        settings["broker_transport"] = REDIS_TRANSPORT
    if "beat_schedule_filename" not in settings:
        # beat's state belongs with the project's other state, not in the current folder
        config.state_folder.mkdir(parents=True, exist_ok=True)
        settings["beat_schedule_filename"] = str(config.state_folder / "celerybeat-schedule")
    if "beat_schedule" in settings:
        settings["beat_schedule"] = _schedule(project, settings["beat_schedule"])
    if config.section("LOGGING"):
        settings.setdefault("worker_hijack_root_logger", False)
    celery.conf.update(settings)
    return celery


class ProjectCelery(Celery):  # type: ignore[misc]  # celery ships no type information
    """A Celery app whose `@celery.task` tasks belong to it alone.

    Celery's decorator makes tasks "shared" by default: registered on every Celery app created
    later in the process, so a second project (tests, the console) would inherit the first
    one's tasks and warn about duplicate names. `shared=True` still asks for that explicitly.
    """

    def task(self, *args: Any, **opts: Any) -> Any:
        opts.setdefault("shared", False)
        return super().task(*args, **opts)

    def _get_backend(self) -> Any:
        backend = super()._get_backend()
        _shorten_result_subscription(backend)
        return backend


#: Retries of a process that sends tasks (a web server) when it subscribes to a task's result
#: on a Redis result backend that does not answer. Celery's own policy (20 retries a second
#: apart) held a request ~20 s while Redis restarted; this gives up after ~1.5 s, the request
#: answers 503 (`_broker_errors`), and the next send subscribes again. A worker's result writes
#: keep Celery's policy (they never go through this).
RESULT_SUBSCRIBE_RETRY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
}


def _shorten_result_subscription(backend: Any) -> None:
    consumer = getattr(backend, "result_consumer", None)
    ensure = getattr(backend, "ensure", None)
    if consumer is not None and ensure is not None and hasattr(consumer, "_ensure"):
        consumer._ensure = functools.partial(ensure, **RESULT_SUBSCRIBE_RETRY)


#: kombu's Redis transport, with fetched messages put back after Redis restarts.
REDIS_TRANSPORT = "flasker._redis_transport:Transport"


def _is_redis_url(url: Any) -> bool:
    return isinstance(url, str) and url.startswith("redis://") and ";" not in url


def _in_request_of(project: Project) -> bool:
    from flask import current_app, has_request_context

    # Flask types `current_app` as the app itself; it is a LocalProxy, which has this method.
    return (
        has_request_context() and current_app._get_current_object() is project.app  # type: ignore[attr-defined]
    )


def _main_name(project: Project) -> str:
    modules = project.config.modules
    return modules[0].split(".")[0] if modules else "flasker"


def _schedule(project: Project, schedule: Any) -> dict[str, Any]:
    """beat_schedule from JSON: `schedule` in seconds, or a 5-field cron string."""
    config = project.config
    if not isinstance(schedule, dict):
        raise config.error("CELERY", "beat_schedule", "expected a JSON object of entries")
    entries: dict[str, Any] = {}
    for name, entry in schedule.items():
        if not isinstance(entry, dict) or "task" not in entry or "schedule" not in entry:
            raise config.error(
                "CELERY",
                "beat_schedule",
                f"entry {name!r} needs at least 'task' and 'schedule' "
                '(e.g. {"task": "app.tasks.census", "schedule": 60})',
            )
        when = entry["schedule"]
        if isinstance(when, str):
            fields = when.split()
            if len(fields) != 5:
                raise config.error(
                    "CELERY",
                    "beat_schedule",
                    f"entry {name!r}: schedule {when!r} is neither seconds nor a 5-field cron "
                    "expression (minute hour day month weekday)",
                )
            try:
                when = crontab(
                    *fields[:2],
                    day_of_month=fields[2],
                    month_of_year=fields[3],
                    day_of_week=fields[4],
                )
            except ValueError as error:
                raise config.error(
                    "CELERY", "beat_schedule", f"entry {name!r}: bad cron {when!r}: {error}"
                ) from None
        elif not isinstance(when, int | float) or isinstance(when, bool) or when <= 0:
            raise config.error(
                "CELERY", "beat_schedule", f"entry {name!r}: schedule must be positive seconds"
            )
        entries[name] = {**entry, "schedule": when}
    return entries
