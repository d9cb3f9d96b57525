"""The witness's memory (``WitnessLedger``): one row per log it follows, in a database of
its own (a SQLite file by default), apart from any log's.

One table that only ever gets a row per log and then updates it, so it is created when
missing rather than migrated: a later release that changes it adds its own migration.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from adapters.sql.types import UtcDateTime
from application.ports.witness_ledger import HeldLog
from domain.witnessing import Witnessed

metadata = MetaData()

witnessed_logs = Table(
    "witnessed_logs", metadata,
    Column("origin", Text, primary_key=True),
    Column("origin_hash", String(64), nullable=False, unique=True),
    Column("tree_size", BigInteger, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("cosigned_at", UtcDateTime, nullable=False),
)


class SqlWitnessLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)

    def latest(self, origin: str) -> Witnessed | None:
        with self._engine.connect() as connection:
            row = connection.execute(
                select(witnessed_logs.c.tree_size, witnessed_logs.c.root_hash)
                .where(witnessed_logs.c.origin == origin)).first()
        return Witnessed(row.tree_size, bytes(row.root_hash)) if row else None

    def advance(self, origin: str, held: Witnessed | None, witnessed: Witnessed,
                note: str) -> bool:
        values = {"tree_size": witnessed.tree_size, "root_hash": witnessed.root_hash,
                  "note": note, "cosigned_at": datetime.now(UTC)}
        with self._engine.begin() as connection:
            if held is not None:
                return bool(connection.execute(
                    update(witnessed_logs)
                    .where(witnessed_logs.c.origin == origin,
                           witnessed_logs.c.tree_size == held.tree_size,
                           witnessed_logs.c.root_hash == held.root_hash)
                    .values(values)).rowcount)
            try:
                with connection.begin_nested():
                    connection.execute(insert(witnessed_logs).values(
                        origin=origin,
                        origin_hash=hashlib.sha256(origin.encode()).hexdigest(), **values))
            except IntegrityError:
                return False  # another request recorded the first checkpoint just now
        return True

    def forget(self, origin: str) -> str | None:
        with self._engine.begin() as connection:
            return connection.execute(
                delete(witnessed_logs).where(witnessed_logs.c.origin == origin)
                .returning(witnessed_logs.c.note)).scalar_one_or_none()

    def held(self) -> list[HeldLog]:
        logs = witnessed_logs.c
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(logs.origin, logs.tree_size, logs.root_hash, logs.cosigned_at)
                .order_by(logs.origin)).all()
        return [HeldLog(row.origin, Witnessed(row.tree_size, bytes(row.root_hash)),
                        row.cosigned_at) for row in rows]

    def note(self, origin_hash: str) -> str | None:
        with self._engine.connect() as connection:
            return connection.execute(
                select(witnessed_logs.c.note)
                .where(witnessed_logs.c.origin_hash == origin_hash)).scalar_one_or_none()
