"""The request's unit of work: its session, where reads run, and commits that fail cleanly.

Writes flush and commit through `Transactions`, which turns a database refusal into 409/422
after a rollback, so a request that answers with an error has changed nothing; reads run on
the session's connection when the request has one, else on a pooled connection::

    transactions = Transactions(api)
    transactions.session.add(obj)
    transactions.flush()        # ApiProblem(409) on a unique or foreign-key violation
    transactions.commit()       # and the session ends: nothing left for flasker's commit
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from flasker.db import error_line, is_unavailable

from ._site import project_of
from .problems import ApiProblem

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from flasker.db import Database

    from ._site import APISite


class Transactions:
    """The database of the API's project, as one request uses it."""

    def __init__(self, site: APISite) -> None:
        self.site = site

    @property
    def db(self) -> Database:
        return project_of(self.site).db

    @property
    def session(self) -> Session:
        return self.db.session()

    def read_connection(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """Where reads run: the session's connection when the request already has a session
        (its transaction sees what the request did), else a connection of the engine's pool
        (no session, no unit of work, nothing to commit)."""
        db = self.db
        if db.session.registry.has():
            return contextlib.nullcontext(db.session().connection())
        return db.engine.connect()

    def session_events(self) -> Any:
        """The flush events that would fire for this request's session, without creating one."""
        db = self.db
        if db.session.registry.has():
            return db.session().dispatch
        return db.Session.class_.dispatch

    def flush(self) -> None:
        try:
            self.session.flush()
        except Exception as error:
            self.session.rollback()
            raise database_problem(error) from None

    def commit(self) -> None:
        """Commit the request's unit of work, then end the session: what the request did is
        stored, and flasker's own commit at the end of the request has nothing left to do
        (an empty commit would still check a connection out of the pool)."""
        try:
            self.session.commit()
        except Exception as error:
            self.session.rollback()
            raise database_problem(error) from None
        self.db.remove()


def database_problem(error: Exception) -> ApiProblem:
    """Database refusals a client caused → 409/422; anything else goes on as a server error,
    and an unavailable database (a lost connection, a full pool) to flasker's 503."""
    if is_unavailable(error):
        raise error
    message = error_line(error)
    if isinstance(error, sa_exc.IntegrityError):
        return ApiProblem(409, f"the database refused the change: {message}", title="Conflict")
    if isinstance(error, sa_exc.OperationalError | sa_exc.InternalError):
        raise error  # the database is unwell: a server error, not the client's
    if isinstance(error, sa_exc.DataError | sa_exc.StatementError):
        return ApiProblem(422, f"the database refused a value: {message}")
    if isinstance(error, sa_exc.SQLAlchemyError | AssertionError):
        # the unit of work refused the change (e.g. it would blank out a key column)
        return ApiProblem(409, f"the change cannot be made: {message}", title="Conflict")
    raise error
