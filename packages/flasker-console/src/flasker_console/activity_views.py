"""The Activity page (registered on the console's blueprint by `views.make_blueprint`): every
change made through the console, newest first, 50 a page; readable by viewers, who see the
secrets in recorded cfg diffs masked (redaction.py)."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request
from sqlalchemy.exc import SQLAlchemyError

from flasker.db import error_line

from . import activity
from ._site import EXTENSION
from .access import current_operator


def activity_page() -> Any:
    project = current_app.extensions[EXTENSION].project
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    problem = None
    try:
        listing = activity.page(project, number)
    except SQLAlchemyError as error:
        detail = error_line(error)
        problem = f"the database did not answer: {detail}"
        listing = activity.ActivityPage([], max(1, number), False, 0)
    masked = not current_operator().is_admin
    entries = [
        {
            "row": row,
            "detail": activity.redact_diff(row.detail or "")
            if masked and row.is_diff
            else (row.detail or ""),
        }
        for row in listing.rows
    ]
    return render_template(
        "flasker_console/activity.html", listing=listing, entries=entries, problem=problem
    )
