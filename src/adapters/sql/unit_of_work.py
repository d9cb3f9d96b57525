"""One transaction per unit of work, on a connection from the engine's pool."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from adapters.sql.alerts import (
    SqlAlertRepository,
    SqlAlertRuleRepository,
    SqlAlertWindowRepository,
)
from adapters.sql.chain_checks import SqlChainCheckRepository
from adapters.sql.credentials import SqlSealedCredentialRepository
from adapters.sql.engine import SNAPSHOT, TRANSACTION, WRITE_OPTION
from adapters.sql.events import SqlEventRepository
from adapters.sql.exports import SqlExportRepository
from adapters.sql.log_witnesses import SqlLogWitnessRepository
from adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlChainHeadRepository,
    SqlIdempotencyRepository,
    SqlWorkspaceRepository,
)
from adapters.sql.streams import SqlDeliveryRepository, SqlStreamRepository
from adapters.sql.tree import SqlCheckpointRepository, SqlTreeRepository
from adapters.sql.viewer_links import SqlViewerLinkRepository
from application.errors import DeletedMeanwhile


class SqlUnitOfWork:
    """``read_only`` units on PostgreSQL run in autocommit: no BEGIN/ROLLBACK round trips on
    the request path. ``snapshot`` asks for one consistent view across statements
    instead (a REPEATABLE READ, READ ONLY transaction), for reads that span many chunks.
    ``single_write`` units make one repository write, which is atomic on its own, so on
    PostgreSQL they run in autocommit too: the write is durable when it returns."""

    def __init__(self, engine: Engine, read_only: bool = False, snapshot: bool = False,
                 single_write: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only or snapshot
        self._snapshot = snapshot
        self._single_write = single_write

    def __enter__(self) -> SqlUnitOfWork:
        options: dict[str, object] = {WRITE_OPTION: not self._read_only}
        autocommit = (self._engine.dialect.name == "postgresql" and not self._snapshot
                      and (self._read_only or self._single_write))
        if self._engine.dialect.name == "postgresql":
            options.update(_postgres_options(self._snapshot, autocommit))
        self._connection = self._engine.connect().execution_options(**options)
        # In autocommit there is no transaction to open, and a begin() would be bookkeeping
        # only: some 30,000 instructions on the single-event path, 1.5 % of its request.
        self._transaction = None if autocommit else self._connection.begin()
        self.workspaces = SqlWorkspaceRepository(self._connection)
        self.api_keys = SqlApiKeyRepository(self._connection)
        self.events = SqlEventRepository(self._connection)
        self.chains = SqlChainHeadRepository(self._connection)
        self.chain_checks = SqlChainCheckRepository(self._connection)
        self.idempotency = SqlIdempotencyRepository(self._connection)
        self.exports = SqlExportRepository(self._connection)
        self.streams = SqlStreamRepository(self._connection)
        self.deliveries = SqlDeliveryRepository(self._connection)
        self.alert_rules = SqlAlertRuleRepository(self._connection)
        self.alerts = SqlAlertRepository(self._connection)
        self.alert_windows = SqlAlertWindowRepository(self._connection)
        self.tree = SqlTreeRepository(self._connection)
        self.checkpoints = SqlCheckpointRepository(self._connection)
        self.log_witnesses = SqlLogWitnessRepository(self._connection)
        self.viewer_links = SqlViewerLinkRepository(self._connection)
        self.sealed_credentials = SqlSealedCredentialRepository(self._connection)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._connection.close()
        if exc is not None and _refers_to_a_deleted_row(exc):
            # Checked before the write, the row was there; deleted since (a workspace
            # offboarded mid-request): the caller's conflict, not a server error.
            raise DeletedMeanwhile from None

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


def _refers_to_a_deleted_row(error: BaseException) -> bool:
    """A row written that refers to one no longer there: a foreign key violation, as
    PostgreSQL (SQLSTATE 23503) or SQLite reports it, raised by a write that is not a
    DELETE (a DELETE's is the other case: a row still referred to). Statements sent to the
    driver directly are wrapped alike (``driver_errors``)."""
    return isinstance(error, IntegrityError) and (
        getattr(error.orig, "sqlstate", None) == "23503"
        or "FOREIGN KEY constraint failed" in str(error.orig)) and \
        not str(error.statement or "").lstrip().upper().startswith("DELETE")
