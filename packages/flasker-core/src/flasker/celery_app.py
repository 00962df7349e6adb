"""Building the project's Celery app from `[CELERY]`, with tasks that run in the app context.

Every task runs inside the Flask app context and ends its unit of work like a request does:
commit `db.session` on success when AUTOCOMMIT is on, roll back on error, always remove the
session. With no `broker_url` the project uses the embedded on-disk broker (see `_fsbroker`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.schedules import crontab

from ._fsbroker import BrokerFolders

if TYPE_CHECKING:
    from .project import Project

#: Defaults flasker sets unless the cfg says otherwise: the console shows STARTED and
#: arguments, and a worker started before its broker keeps retrying instead of crashing.
DEFAULTS: dict[str, Any] = {
    "task_track_started": True,
    "result_extended": True,
    "broker_connection_retry_on_startup": True,
}


def make_celery(project: Project) -> Celery:
    config = project.config

    class ProjectTask(Task):
        """Runs inside the project's app context and finishes its db session like a request."""

        abstract = True

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with project.app.app_context():
                try:
                    result = super().__call__(*args, **kwargs)
                except BaseException:
                    project.db.finish(success=False)
                    raise
                project.db.finish(success=True)
                return result

    celery = Celery(
        main=_main_name(project), task_cls=ProjectTask, set_as_current=False, autofinalize=True
    )
    settings: dict[str, Any] = dict(DEFAULTS)
    if config.is_embedded_broker:
        folders = BrokerFolders(config.state_folder)
        folders.create()
        settings.update(folders.celery_settings())
    settings.update(config.celery)
    if "beat_schedule" in settings:
        settings["beat_schedule"] = _schedule(project, settings["beat_schedule"])
    if config.section("LOGGING"):
        settings.setdefault("worker_hijack_root_logger", False)
    celery.conf.update(settings)
    return celery


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
