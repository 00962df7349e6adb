"""The insert fast path: a POST of a plain entity as one `INSERT … RETURNING`.

When nothing relies on the ORM's unit of work or on a loaded entity, the new row is inserted
with Core and answered from the returned row, written by the same compiled reader a GET uses
(same body, same ETag). Everything else goes through the session (endpoints.py)::

    if inserts.can_insert(info, plan, obj):
        return inserts.insert_row(info, plan, obj)
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa

from flasker.db import advance_sequence, explicit_key

from .lookup import item_url
from .serialize import dumps
from .transactions import database_problem

if TYPE_CHECKING:
    from flask import Response
    from sqlalchemy.orm import Mapper

    from .model_info import ModelInfo
    from .reader import Plan
    from .reads import Reads
    from .transactions import Transactions


class RowInserts:
    """Inserts new entities as rows, answering like the session path would."""

    def __init__(self, transactions: Transactions, reads: Reads, prefix: str) -> None:
        self.transactions = transactions
        self.reads = reads
        self.prefix = prefix

    def can_insert(self, info: ModelInfo, plan: Plan, obj: Any) -> bool:
        """Can this new entity be inserted with Core (see `insertable_as_row`)?"""
        return insertable_as_row(info, plan, obj, self.transactions.session_events())

    def insert_row(self, info: ModelInfo, plan: Plan, obj: Any) -> Response:
        """POST of a plain entity as one `INSERT … RETURNING` of the columns shown: no unit of
        work, no entity loaded back; the answer is what the database stored, written by the
        same compiled reader a GET uses (same body, same ETag)."""
        mapper: Mapper[Any] = sa.inspect(info.model)
        loaded = obj.__dict__
        values = {
            attr.columns[0].key: loaded[attr.key]
            for attr in mapper.column_attrs
            if attr.key in loaded
        }
        # built once per plan; the values travel as parameters (SQLAlchemy caches the SQL)
        statement = plan.insert
        if statement is None:
            # a plain mapping (see insertable_as_row) maps one Table
            table = cast(sa.Table, mapper.local_table)
            statement = plan.insert = sa.insert(table).returning(*plan.columns)
        db = self.transactions.db
        explicit = explicit_key(mapper.local_table, values)
        if db.session.registry.has():  # the request already works in a session: join it
            session = db.session()
            try:
                connection = session.connection()
                row = connection.execute(statement, values).one()
                if explicit is not None:
                    advance_sequence(connection, *explicit)
                session.commit()
            except Exception as error:
                session.rollback()
                raise database_problem(error) from None
            db.remove()
        else:
            try:
                with db.engine.begin() as connection:
                    row = connection.execute(statement, values).one()
                    if explicit is not None:
                        advance_sequence(connection, *explicit)
            except Exception as error:
                raise database_problem(error) from None
        location = item_url(self.prefix, info, [row[i] for i in plan.root.key_positions])
        return self.reads.one_response(dumps(plan.one(None, row)), 201, Location=location)  # type: ignore[arg-type]


def insertable_as_row(info: ModelInfo, plan: Plan, obj: Any, session_events: Any) -> bool:
    """Can this new entity be inserted with Core and answered from the returned row?

    Only when nothing relies on the ORM's unit of work or on a loaded entity: the response
    shows columns only (no includes, no computed properties), the model has no validators,
    inheritance, version counter or insert events, the session has no flush events, and the
    body set columns only (a relation assigned by key goes through the session as usual).
    """
    if plan.nests or plan.root.properties or plan.light:
        return False
    mapper: Mapper[Any] = sa.inspect(info.model)
    if not _plain_mapping(mapper) or mapper.dispatch.before_insert or mapper.dispatch.after_insert:
        return False
    dispatch = session_events
    if dispatch.before_flush or dispatch.after_flush or dispatch.after_flush_postexec:
        return False
    loaded = obj.__dict__
    return not any(relation.key in loaded for relation in mapper.relationships)


@functools.cache
def _plain_mapping(mapper: Any) -> bool:
    """The mapping asks nothing of the unit of work: one table, no validators, inheritance,
    version counter or multi-column attributes."""
    return (
        not mapper.validators
        and mapper.inherits is None
        and mapper.polymorphic_on is None
        and mapper.version_id_col is None
        and all(len(attr.columns) == 1 for attr in mapper.column_attrs)
    )
