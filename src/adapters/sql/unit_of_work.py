"""One transaction per unit of work, on a connection from the engine's pool."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine

from adapters.sql.engine import WRITE_OPTION
from adapters.sql.repositories import (
    SqlApiKeyRepository,
    SqlChainHeadRepository,
    SqlEventRepository,
    SqlIdempotencyRepository,
    SqlWorkspaceRepository,
)


class SqlUnitOfWork:
    def __init__(self, engine: Engine, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only

    def __enter__(self) -> SqlUnitOfWork:
        self._connection = self._engine.connect().execution_options(
            **{WRITE_OPTION: not self._read_only})
        self._transaction = self._connection.begin()
        self.workspaces = SqlWorkspaceRepository(self._connection)
        self.api_keys = SqlApiKeyRepository(self._connection)
        self.events = SqlEventRepository(self._connection)
        self.chains = SqlChainHeadRepository(self._connection)
        self.idempotency = SqlIdempotencyRepository(self._connection)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._transaction.is_active:
                self._transaction.rollback()
        finally:
            self._connection.close()

    def commit(self) -> None:
        self._transaction.commit()
