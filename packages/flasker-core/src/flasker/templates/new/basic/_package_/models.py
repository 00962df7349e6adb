"""The database models. Tables are created at start-up (here: a `notes` table)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, Unicode
from sqlalchemy.orm import Mapped, mapped_column

from flasker.util import Model


class Note(Model):
    """A short note; the table name, `notes`, comes from the class name."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Unicode(280))
    created: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
