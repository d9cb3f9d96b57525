"""One transaction per unit of work, on a connection from the engine's pool."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from adapters.sql.alert_rules import SqlAlertRuleRepository
from adapters.sql.alert_windows import SqlAlertWindowRepository
from adapters.sql.alerts import SqlAlertRepository
from adapters.sql.api_keys import SqlApiKeyRepository
from adapters.sql.chain_checks import SqlChainCheckRepository
from adapters.sql.chain_heads import SqlChainHeadRepository
from adapters.sql.credentials import SqlSealedCredentialRepository
from adapters.sql.engine import SNAPSHOT, TRANSACTION, WRITE_OPTION
from adapters.sql.events import SqlEventRepository
from adapters.sql.exports import SqlExportRepository
from adapters.sql.idempotency import SqlIdempotencyRepository
from adapters.sql.log_witnesses import SqlLogWitnessRepository
from adapters.sql.streams import SqlDeliveryRepository, SqlStreamRepository
from adapters.sql.time_limits import TimeLimit
from adapters.sql.tree import SqlCheckpointRepository, SqlTreeRepository
from adapters.sql.viewer_links import SqlViewerLinkRepository
from adapters.sql.workspaces import SqlWorkspaceRepository
from application.errors import DeletedMeanwhile, WritesRefused


class SqlUnitOfWork:
    """``read_only`` units on PostgreSQL run in autocommit: no BEGIN/ROLLBACK round trips on
    the request path. ``snapshot`` asks for one consistent view across statements
    instead (a REPEATABLE READ, READ ONLY transaction), for reads that span many chunks.
    ``single_write`` units make one repository write, which is atomic on its own, so on
    PostgreSQL they run in autocommit too: the write is durable when it returns.
    ``time_limit`` units stop their statements once together they run longer (see
    ``TimeLimit``)."""

    def __init__(self, engine: Engine, read_only: bool = False, snapshot: bool = False,
                 single_write: bool = False, time_limit: float | None = None) -> None:
        self._engine = engine
        self._read_only = read_only or snapshot
        self._snapshot = snapshot
        self._single_write = single_write
        self._time_limit = TimeLimit(time_limit) if time_limit else None

    def __enter__(self) -> SqlUnitOfWork:
        options: dict[str, object] = {WRITE_OPTION: not self._read_only}
        # A time limit is a setting local to a transaction, so such units open one.
        autocommit = (self._engine.dialect.name == "postgresql" and not self._snapshot
                      and (self._read_only or self._single_write)
                      and self._time_limit is None)
        if self._engine.dialect.name == "postgresql":
            options.update(_postgres_options(self._snapshot, autocommit))
        self._connection = self._engine.connect().execution_options(**options)
        # In autocommit there is no transaction to open, and a begin() would be bookkeeping
        # only: some 30,000 instructions on the single-event path, 1.5 % of its request.
        self._transaction = None if autocommit else self._connection.begin()
        if self._time_limit is not None:
            self._time_limit.start(self._connection)
        self._attach(self._connection)
        return self

    def _attach(self, connection: Connection) -> None:
        """The repositories, all on the unit's one connection."""
        self.workspaces = SqlWorkspaceRepository(connection)
        self.api_keys = SqlApiKeyRepository(connection)
        self.events = SqlEventRepository(connection)
        self.chains = SqlChainHeadRepository(connection)
        self.chain_checks = SqlChainCheckRepository(connection)
        self.idempotency = SqlIdempotencyRepository(connection)
        self.exports = SqlExportRepository(connection)
        self.streams = SqlStreamRepository(connection)
        self.deliveries = SqlDeliveryRepository(connection)
        self.alert_rules = SqlAlertRuleRepository(connection)
        self.alerts = SqlAlertRepository(connection)
        self.alert_windows = SqlAlertWindowRepository(connection)
        self.tree = SqlTreeRepository(connection)
        self.checkpoints = SqlCheckpointRepository(connection)
        self.log_witnesses = SqlLogWitnessRepository(connection)
        self.viewer_links = SqlViewerLinkRepository(connection)
        self.sealed_credentials = SqlSealedCredentialRepository(connection)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._time_limit is not None:
                self._time_limit.stop(self._connection)
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._connection.close()
        if exc is not None and self._time_limit is not None:
            self._time_limit.raise_if_exceeded(exc)
        if exc is not None and _refers_to_a_deleted_row(exc):
            # Checked before the write, the row was there; deleted since (a workspace
            # offboarded mid-request): the caller's conflict, not a server error.
            raise DeletedMeanwhile from None
        if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == READ_ONLY:
            raise WritesRefused from exc

    def commit(self) -> None:
        if self._transaction is None:
            # Each statement committed as it ran; this only closes the transaction object
            # SQLAlchemy opens on its own at a first ``execute`` (its "autobegin").
            self._connection.commit()
            return
        self._transaction.commit()


def _postgres_options(snapshot: bool, one_statement: bool) -> dict[str, object]:
    """The engine's connections are in autocommit (see ``build_engine``): units that read
    or write one statement keep it; the others ask for a transaction."""
    if snapshot:
        return dict(SNAPSHOT)
    if one_statement:
        return {}
    return dict(TRANSACTION)


READ_ONLY = "25006"
"""PostgreSQL's read_only_sql_transaction: a write sent to a standby."""


def _refers_to_a_deleted_row(error: BaseException) -> bool:
    """A row written that refers to one no longer there: a foreign key violation, as
    PostgreSQL (SQLSTATE 23503) or SQLite reports it, raised by a write that is not a
    DELETE (a DELETE's is the other case: a row still referred to). Statements sent to the
    driver directly are wrapped alike (``driver_errors``)."""
    return isinstance(error, IntegrityError) and (
        getattr(error.orig, "sqlstate", None) == "23503"
        or "FOREIGN KEY constraint failed" in str(error.orig)) and \
        not str(error.statement or "").lstrip().upper().startswith("DELETE")
