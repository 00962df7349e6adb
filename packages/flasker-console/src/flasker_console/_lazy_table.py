"""A console table mapped on core's `Model` on first use, and created then when missing.

Mapping it at registration would make every project that registers the console create the
table at start-up, and fail to start while its database is down; so the console's own tables
(sent tasks, the activity log) appear the first time they are written or read.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

from .exceptions import ConsoleError

if TYPE_CHECKING:
    from flasker.project import Project


class LazyTable:
    """`model()` maps `record` as `class_name` on table `table`; `ensure(project)` creates it."""

    def __init__(self, table: str, record: type, class_name: str, module: str, purpose: str):
        self.table = table
        self.record = record
        self.class_name = class_name
        self.module = module
        self.purpose = purpose
        self._lock = threading.Lock()
        self._current: Any = None
        self._created: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def model(self) -> Any:
        """The model, mapped on core's `Model` (again, if a test suite unmapped it)."""
        from flasker.model import Model

        with self._lock:
            current = self._current
            mapped = {mapper.class_ for mapper in Model.registry.mappers}
            table = Model.metadata.tables.get(self.table)
            if current is not None and current in mapped and table is current.__table__:
                return current
            if table is not None:
                raise ConsoleError(
                    f"the table {self.table} is already defined by another model: the console "
                    f"keeps {self.purpose} there; rename the other model's table"
                )
            namespace = {
                "__tablename__": self.table,
                "__module__": self.module,
                "__doc__": self.record.__doc__,
                "__api__": False,  # flasker-api's add_all_models leaves it out
            }
            self._current = type(self.class_name, (self.record, Model), namespace)
            return self._current

    def ensure(self, project: Project) -> Any:
        """Create the table when missing, once per engine and mapping (also in a project whose
        schema Alembic owns: the console's tables are its own); return the model."""
        model = self.model()
        engine = project.db.engine
        if self._created.get(engine) is not model:
            create_table(engine, model.__table__)
            self._created[engine] = model
        return model

    def existing(self, project: Project) -> Any:
        """The model when its table exists, else None, creating nothing: a read that finds
        nothing (a 404) leaves the database as it was."""
        from sqlalchemy import inspect

        model = self.model()
        engine = project.db.engine
        if self._created.get(engine) is model:
            return model
        if not inspect(engine).has_table(self.table):
            return None
        self._created[engine] = model
        return model

    def find(self, project: Project, task_id: str) -> Any | None:
        """The row of `task_id` (detached: read after the session closes), or None when there
        is none or the table does not exist; creates nothing."""
        from sqlalchemy import select

        model = self.existing(project)
        if model is None:
            return None
        with project.db.Session(expire_on_commit=False) as session:
            row = session.scalar(select(model).where(model.task_id == task_id))
            if row is not None:
                session.expunge(row)
            return row


def create_table(engine: Any, table: Any) -> None:
    """CREATE TABLE `table` (a Core `Table`) when missing. Several processes (gunicorn workers,
    each with its events listener and backlog sampler) may find it missing at the same moment:
    the one that loses the race gets the database's duplicate error (PostgreSQL: a unique
    violation on `pg_type`, or DuplicateTable; SQLite: "already exists"), and takes the table
    the other made."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import DatabaseError

    try:
        table.create(engine, checkfirst=True)
    except DatabaseError:
        if not inspect(engine).has_table(table.name):
            raise
