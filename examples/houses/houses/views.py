"""The example's pages: houses with their cats, forms that start tasks, a task status page.

Starting a task is a POST that redirects to `/tasks/<id>`; that page reloads itself with a
`<meta http-equiv="refresh">` until the task is done, so it needs no JavaScript.
"""

from __future__ import annotations

from uuid import UUID

from flask import abort, redirect, render_template, request, url_for
from flask_wtf.csrf import validate_csrf
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response
from wtforms import ValidationError

from flasker import current_project

from .models import Cat, House
from .tasks import adopt, census, fail

app = current_project.app
celery = current_project.celery
db = current_project.db


@app.get("/")
def index() -> str:
    houses = db.session.scalars(
        select(House).options(selectinload(House.cats)).order_by(House.id)
    ).all()
    strays = db.session.scalars(select(Cat).where(Cat.house_id.is_(None)).order_by(Cat.name)).all()
    return render_template("index.html", houses=houses, strays=strays)


def _require_csrf() -> None:
    """Every form of the example carries a CSRF token (Flask-WTF's, signed with SECRET_KEY),
    so another site cannot start tasks with a signed-in visitor's cookie."""
    try:
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError as error:
        abort(400, f"the form is out of date or was not sent by this site: {error}")


@app.post("/census")
def start_census() -> Response:
    _require_csrf()
    return _follow(census.delay().id)


@app.post("/adopt")
def start_adoption() -> Response:
    _require_csrf()
    cat_name = request.form.get("cat", "")
    house_id = request.form.get("house", type=int)
    if not cat_name or house_id is None:
        abort(400, "choose a cat and a house")
    return _follow(adopt.delay(cat_name, house_id).id)


@app.post("/fail")
def start_failure() -> Response:
    _require_csrf()
    return _follow(fail.delay().id)


@app.get("/tasks/<uuid:task_id>")
def task_status(task_id: UUID) -> str:
    return render_template("task.html", result=celery.AsyncResult(str(task_id)))


def _follow(task_id: str) -> Response:
    return redirect(url_for("task_status", task_id=task_id), code=303)
