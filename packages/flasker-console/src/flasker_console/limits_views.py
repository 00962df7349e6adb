"""The tasks page's limits forms: a task type's rate limit or time limits, set on the running
workers (task_limits.py), for admins (registered with `admin_only` by views.py).

`POST <console>/tasks/limits` with `task` (a registered task's name), `limit` (`rate` or
`time`) and the fields of that limit (`rate_limit`; `soft_time_limit` and `time_limit`). Bad
input is a 422 naming the field, and nothing is sent; each worker's reply is shown (in place
for htmx, else flashed on the tasks page) and written to the activity log.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_htmx import make_response

from . import task_limits as limits
from ._site import console_site
from .access import current_operator
from .introspection import registered_tasks

#: The flash category the tasks page shows the replies under (without JavaScript).
FLASH = "limits"


def tasks_limits() -> Any:
    site = console_site()
    project = site.project
    assert project is not None  # set when the console is registered
    kind = request.form.get("limit", "")
    if kind not in ("rate", "time"):
        raise limits.LimitInputError("limit: expected rate or time; reload the tasks page")
    name = (request.form.get("task") or "").strip()
    if not name or name not in {task["name"] for task in registered_tasks(project)}:
        shown = name if len(name) <= 80 else name[:80] + "…"
        raise limits.LimitInputError(f"task: no task named {shown!r} is registered in this project")
    timeouts = {"timeout": site.inspect_timeout, "check_timeout": site.check_timeout}
    if kind == "rate":
        rate = limits.rate_field(request.form.get("rate_limit"))
        change = limits.set_rate(project, name, rate, **timeouts)
    else:
        soft, hard = limits.time_fields(
            request.form.get("soft_time_limit"), request.form.get("time_limit")
        )
        change = limits.set_time(project, name, soft, hard, **timeouts)
    limits.record(project, current_operator().email, change)
    if request.headers.get("HX-Request"):
        return make_response(
            render_template("flasker_console/partials/task_limits_sent.html", change=change)
        )
    flash(change.summary, FLASH)
    return redirect(url_for(".tasks"), 303)
