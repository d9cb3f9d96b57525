"""Engine creation: pool settings for PostgreSQL, WAL and write locks for SQLite."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.pool import ConnectionPoolEntry

from adapters.private_files import private_file

WRITE_OPTION = "auditrail_write"


def build_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get their parent folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    # No pre-ping on every checkout: it would cost a round trip per request. Connections in
    # steady use meet a restart of the database as a disconnect error (a 503 for that one
    # request), after which SQLAlchemy drops the whole pool; those that sat idle, as they
    # do through a night's maintenance, are pinged first (_ping_after_idle).
    # Connections are in autocommit unless a unit of work asks for a transaction: the
    # request path is single statements, and setting and resetting the mode on every
    # checkout would cost it more than the transactional paths (batched) pay instead.
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800,
                           isolation_level="AUTOCOMMIT")
    _ping_after_idle(engine)
    return engine


PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "auditrail_idle_since"


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection before use when it has been idle for a while: a database
    restarted meanwhile (maintenance, a failover) then costs no request an error. One
    dead connection found this way has the pool drop every connection older than it, as a
    disconnect error would. Connections in steady use skip it: no round trip is added to
    a busy server's requests, and theirs would have been open a moment ago anyway."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _alive(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.pop(_IDLE_SINCE, None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError("a pooled connection died while idle") from exc


TRANSACTION = {"isolation_level": "READ COMMITTED"}
"""Execution options for code outside a unit of work that needs a PostgreSQL transaction."""

SNAPSHOT = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
"""One consistent view across statements, for reads that span many chunks."""


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        _private_database(Path(database))
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                           pool_size=8, max_overflow=8)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the sqlite3 module so we can BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        # Writers take the lock up front: a deferred transaction that upgrades to a write
        # lock can fail with SQLITE_BUSY instead of waiting, which would lose the request.
        write = connection.get_execution_options().get(WRITE_OPTION, True)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _private_database(path: Path) -> None:
    """The database file owner-only before SQLite opens it: SQLite gives its ``-wal`` and
    ``-shm`` files the database file's mode, and those of an earlier release are fixed."""
    private_file(path)
    for companion in ("-wal", "-shm", "-journal"):
        sibling = path.with_name(path.name + companion)
        if sibling.exists():
            private_file(sibling)


def ping(engine: Engine) -> bool:
    """Whether the database answers a trivial query."""
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception:
        return False
    return True
