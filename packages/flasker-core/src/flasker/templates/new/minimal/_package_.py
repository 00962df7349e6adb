"""The whole app in one module: a page and a task. Split it into a package as it grows."""

from __future__ import annotations

from flask import render_template_string

from flasker import current_project

app = current_project.app
celery = current_project.celery

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ name }}</title>
  <link rel="stylesheet"
        href="{{ url_for('flasker_assets.static', filename='vendor/bootstrap.min.css') }}">
</head>
<body class="container py-4">
  <h1 class="h3">{{ name }}</h1>
  <p>It works. Edit {{ module }}.py, and default.cfg to configure the app, the database and
  Celery.</p>
</body>
</html>"""


@app.get("/")
def index() -> str:
    return render_template_string(PAGE, name=current_project.config.name, module=__name__)


@celery.task
def add(x: int, y: int) -> int:
    """A first task: `add.delay(2, 3).get()` returns 5 once a worker runs it."""
    return x + y
