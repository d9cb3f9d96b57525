"""A second PostgreSQL connection that reads exactly what a unit of work reads.

A long read split across two connections (the chain read ahead of its check, an export
rendered in two halves at once) must not see a row the unit does not, nor miss one it
sees: the second connection imports the unit's snapshot (``pg_export_snapshot``, then
``SET TRANSACTION SNAPSHOT``), which PostgreSQL allows from a REPEATABLE READ unit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import sql
from sqlalchemy import Connection

from adapters.sql.engine import SNAPSHOT


@contextmanager
def sharing_snapshot(db: Connection) -> Iterator[tuple[Connection, Any]]:
    """A new connection in a transaction as of ``db``'s snapshot, and its psycopg driver
    connection (statements sent to the driver directly skip SQLAlchemy's per-row work)."""
    snapshot = db.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
    with db.engine.connect().execution_options(**SNAPSHOT) as other:
        driver: Any = other.connection.driver_connection
        driver.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(snapshot))
        yield other, driver
