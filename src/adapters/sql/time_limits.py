"""A time limit on a unit of work's statements, as each database can enforce one.

PostgreSQL stops the statement itself (``statement_timeout``, set for the transaction
only, so the pooled connection and PgBouncer's other clients keep their own setting) and
frees the backend at once; the client gets SQLSTATE 57014. SQLite has no such setting;
its progress handler, called every few thousand virtual-machine steps, interrupts the
statement once the unit's time is up.
"""

from __future__ import annotations

import sqlite3
import time
from typing import cast

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from application.errors import QueryTimedOut

QUERY_CANCELED = "57014"
SQLITE_STEPS_BETWEEN_CHECKS = 10_000
"""Well under a millisecond of SQLite's work: each check costs a Python call."""


class TimeLimit:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def start(self, connection: Connection) -> None:
        """Called in the unit's transaction, before its first statement."""
        if connection.dialect.name == "postgresql":
            milliseconds = max(1, round(self.seconds * 1000))
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
            return
        deadline = time.monotonic() + self.seconds
        _sqlite(connection).set_progress_handler(lambda: time.monotonic() > deadline,
                                                 SQLITE_STEPS_BETWEEN_CHECKS)

    def stop(self, connection: Connection) -> None:
        """Before the connection goes back to the pool (PostgreSQL's ends with the
        transaction)."""
        if connection.dialect.name != "postgresql":
            _sqlite(connection).set_progress_handler(None, 0)

    def raise_if_exceeded(self, error: BaseException) -> None:
        """``error`` as the caller's ``QueryTimedOut`` when the limit caused it."""
        if not isinstance(error, DBAPIError):
            return
        if getattr(error.orig, "sqlstate", None) == QUERY_CANCELED or \
                str(error.orig) == "interrupted":
            raise QueryTimedOut(self.seconds) from None


def _sqlite(connection: Connection) -> sqlite3.Connection:
    return cast(sqlite3.Connection, connection.connection.driver_connection)
