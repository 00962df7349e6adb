"""Celery tasks. They run inside the app context, and db.session is committed when they return."""

from __future__ import annotations

from sqlalchemy import select

from flasker import current_project

from .models import Note

celery = current_project.celery
db = current_project.db


@celery.task
def count_words() -> dict[str, int]:
    """Count the notes and their words (run it from the home page, or `count_words.delay()`)."""
    texts = db.session.scalars(select(Note.text)).all()
    return {"notes": len(texts), "words": sum(len(text.split()) for text in texts)}
