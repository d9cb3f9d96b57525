"""Statements that go to the driver directly (COPY, the single-event INSERT), with
SQLAlchemy's error handling."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


@contextmanager
def driver_errors(db: Connection, statement: str) -> Iterator[None]:
    """Raise driver errors as SQLAlchemy's, as ``Connection.execute`` would: callers and the
    HTTP layer see one family of exceptions (a lost server is an ``OperationalError``, a
    503), and a connection found dead is invalidated instead of going back to the pool."""
    dbapi = db.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = db.dialect.is_disconnect(exc, db.connection.dbapi_connection, None)
        if lost:
            db.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, dbapi.Error,
                                  connection_invalidated=lost, dialect=db.dialect) from exc
