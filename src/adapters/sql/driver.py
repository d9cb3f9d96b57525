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
    503), and a connection found dead is invalidated instead of going back to the pool.

    A lost server means every pooled connection is dead too: like ``Connection.execute``
    (``_handle_dbapi_exception``), the whole pool is marked stale, so after a database
    restart one request per process fails, not one per pooled connection.
    """
    dbapi = db.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        lost = db.dialect.is_disconnect(exc, db.connection.dbapi_connection, None)
        if lost:
            db.engine.pool._invalidate(db.connection, exc)
            db.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, dbapi.Error,
                                  connection_invalidated=lost, dialect=db.dialect) from exc
