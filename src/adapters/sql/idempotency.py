"""The idempotency key repository."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, tuple_

from adapters.sql import tables as t
from adapters.sql.upsert import dialect_insert
from application.ports.repositories.events import IdempotencyKeyTaken
from domain.idempotency import IdempotencyRecord


class SqlIdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, workspace_id: str, key: str) -> IdempotencyRecord | None:
        row = self._db.execute(select(t.idempotency_keys).where(
            t.idempotency_keys.c.workspace_id == workspace_id,
            t.idempotency_keys.c.key == key)).mappings().first()
        if row is None:
            return None
        return IdempotencyRecord(row["workspace_id"], row["key"], row["fingerprint"],
                                 tuple(row["event_ids"]), row["created_at"])

    def add(self, record: IdempotencyRecord, expired_by: datetime) -> None:
        """One statement: insert the key, or take over an expired record of it. A live
        record changes no row; a concurrent retry's uncommitted one makes this wait on the
        primary key, then see it committed (READ COMMITTED) - or insert after a rollback.
        (It was a delete, a savepoint, the insert and its release: four round trips.)"""
        table = t.idempotency_keys
        upsert = dialect_insert(self._db)(table).values(
            workspace_id=record.workspace_id, key=record.key, fingerprint=record.fingerprint,
            event_ids=list(record.event_ids), created_at=record.created_at)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.workspace_id, table.c.key],
            set_={name: upsert.excluded[name]
                  for name in ("fingerprint", "event_ids", "created_at")},
            where=table.c.created_at <= expired_by)
        # An INSERT's row count is kept only when asked for (an update's always is).
        if self._db.execute(upsert.execution_options(preserve_rowcount=True)).rowcount == 0:
            raise IdempotencyKeyTaken(record.key)

    def purge(self, expired_by: datetime, limit: int) -> int:
        table = t.idempotency_keys
        doomed = (select(table.c.workspace_id, table.c.key)
                  .where(table.c.created_at <= expired_by).limit(limit))
        result = self._db.execute(
            delete(table).where(tuple_(table.c.workspace_id, table.c.key).in_(doomed)))
        return result.rowcount
