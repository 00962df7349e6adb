"""The pages. `current_project.app` is the Flask app; use it as in any Flask project."""

from __future__ import annotations

from uuid import UUID

from flask import redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from flasker import current_project

from .models import Note
from .tasks import count_words

app = current_project.app
db = current_project.db


@app.context_processor
def project_name() -> dict[str, str]:
    return {"project_name": current_project.config.name}


@app.get("/")
def index() -> str:
    notes = db.session.scalars(select(Note).order_by(Note.id.desc()).limit(50)).all()
    return render_template("index.html", notes=notes)


@app.post("/notes")
def add_note() -> Response:
    text = request.form.get("text", "").strip()
    if text:
        db.session.add(Note(text=text[:280]))  # committed when the request succeeds
    return redirect(url_for("index"))


@app.post("/count")
def start_count() -> Response:
    result = count_words.delay()
    return redirect(url_for("task_status", task_id=result.id))


@app.get("/tasks/<uuid:task_id>")
def task_status(task_id: UUID) -> str:
    result = current_project.celery.AsyncResult(str(task_id))
    return render_template("task.html", result=result)
