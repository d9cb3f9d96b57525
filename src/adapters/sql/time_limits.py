"""A time limit on a unit of work, as each database can enforce one: the unit's statements
together, not each of them (a search is a page and a count; two statements each just under
the limit would otherwise take twice as long as the operator allowed).

PostgreSQL stops the statement itself (``statement_timeout``, set for the transaction
only, so the pooled connection and PgBouncer's other clients keep their own setting) and
frees the backend at once; the client gets SQLSTATE 57014. It is set to the whole limit as
the unit starts, and again, to what is left, before a later statement once the earlier
ones took more than a hundredth of the limit: a search's count after a page of a few
milliseconds costs no round trip (one cost a search 0.2 ms, 6 %), and a unit never runs
more than that hundredth past its limit. SQLite has no such setting; its progress
handler, called every few thousand virtual-machine steps, interrupts the statement once
the unit's time is up.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, cast

from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError

from application.errors import QueryTimedOut

QUERY_CANCELED = "57014"
SQLITE_STEPS_BETWEEN_CHECKS = 10_000
"""Well under a millisecond of SQLite's work: each check costs a Python call."""
SLACK = 0.01
"""How far past its limit, as a share of it, a unit may run rather than pay a round trip."""


class TimeLimit:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadline = 0.0
        self._allowed = seconds
        """What the statement_timeout in force lets a statement run (PostgreSQL)."""

    def start(self, connection: Connection) -> None:
        """Called in the unit's transaction, before its first statement."""
        self._deadline = time.monotonic() + self.seconds
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {_ms(self.seconds)}")
            self._allowed = self.seconds
            event.listen(connection, "before_cursor_execute", self._what_is_left)
            return
        deadline = self._deadline
        _sqlite(connection).set_progress_handler(lambda: time.monotonic() > deadline,
                                                 SQLITE_STEPS_BETWEEN_CHECKS)

    def stop(self, connection: Connection) -> None:
        """Before the connection goes back to the pool (PostgreSQL's setting ends with the
        transaction)."""
        if connection.dialect.name == "postgresql":
            event.remove(connection, "before_cursor_execute", self._what_is_left)
        else:
            _sqlite(connection).set_progress_handler(None, 0)

    def _what_is_left(self, _connection: Connection, cursor: Any, *_: Any) -> None:
        """The statement about to run may take what the unit's earlier ones left."""
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise QueryTimedOut(self.seconds)
        if self._allowed - left > SLACK * self.seconds:
            cursor.execute(f"SET LOCAL statement_timeout = {_ms(left)}")
            self._allowed = left

    def raise_if_exceeded(self, error: BaseException) -> None:
        """``error`` as the caller's ``QueryTimedOut`` when the limit caused it."""
        if not isinstance(error, DBAPIError):
            return
        if getattr(error.orig, "sqlstate", None) == QUERY_CANCELED or \
                str(error.orig) == "interrupted":
            raise QueryTimedOut(self.seconds) from None


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _sqlite(connection: Connection) -> sqlite3.Connection:
    return cast(sqlite3.Connection, connection.connection.driver_connection)
