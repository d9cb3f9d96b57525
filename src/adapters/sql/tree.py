"""The tree tile and checkpoint repositories."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select, tuple_, type_coerce
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql import Subquery

from adapters.sql import tables as t
from adapters.sql.repositories import dialect_insert
from adapters.sql.types import UtcDateTime
from application.ports.repositories import UnsignedLog
from domain.checkpoints import SignedCheckpoint
from domain.cursor import ASC
from domain.signed_notes import b64, unb64
from domain.tiles import TileKey


class SqlTreeRepository:
    """Lives for one transaction, and remembers the tiles it wrote in it: processing
    writes a chunk's tiles, then reads them back for the checkpoint it may sign, under the
    chain lock - nobody else can have changed them. (Tiles it only read are read again: in
    another transaction's hands they may have grown.)"""

    def __init__(self, connection: Connection) -> None:
        self._db = connection
        self._written: dict[tuple[str, int, int], bytes] = {}

    def tiles(self, workspace_id: str, keys: Iterable[TileKey]) -> dict[TileKey, bytes]:
        found, unknown = {}, []
        for key in keys:
            if (workspace_id, *key) in self._written:
                found[key] = self._written[(workspace_id, *key)]
            else:
                unknown.append(key)
        if not unknown:
            return found
        c = t.tree_tiles.c
        rows = self._db.execute(select(c.level, c.tile, c.hashes).where(
            c.workspace_id == workspace_id, tuple_(c.level, c.tile).in_(unknown)))
        return {**found, **{(level, tile): bytes(hashes) for level, tile, hashes in rows}}

    def save(self, workspace_id: str, tiles: Mapping[TileKey, bytes]) -> None:
        if not tiles:
            return
        self._written.update({(workspace_id, *key): data for key, data in tiles.items()})
        table = t.tree_tiles
        upsert = dialect_insert(self._db)(table)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.workspace_id, table.c.level, table.c.tile],
            set_={"hashes": upsert.excluded.hashes})
        self._db.execute(upsert, [{"workspace_id": workspace_id, "level": level,
                                   "tile": index, "hashes": data}
                                  for (level, index), data in tiles.items()])


def _checkpoint_row(checkpoint: SignedCheckpoint) -> dict[str, Any]:
    return {"workspace_id": checkpoint.workspace_id, "tree_size": checkpoint.tree_size,
            "root_hash": b64(checkpoint.root_hash), "note": checkpoint.note,
            "created_at": checkpoint.created_at}


def _checkpoint(row: RowMapping) -> SignedCheckpoint:
    return SignedCheckpoint(row["workspace_id"], row["tree_size"], unb64(row["root_hash"]),
                            row["note"], row["created_at"])


class SqlCheckpointRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, checkpoint: SignedCheckpoint) -> SignedCheckpoint:
        table = t.checkpoints
        statement = dialect_insert(self._db)(table).values(
            _checkpoint_row(checkpoint)).on_conflict_do_nothing(
            index_elements=[table.c.workspace_id, table.c.tree_size]).returning(table)
        row = self._db.execute(statement).mappings().first()
        if row is not None:
            return _checkpoint(row)
        stored = self.get(checkpoint.workspace_id, checkpoint.tree_size)  # signed before
        assert stored is not None
        return stored

    def get(self, workspace_id: str, tree_size: int) -> SignedCheckpoint | None:
        c = t.checkpoints.c
        return self._one(select(t.checkpoints).where(c.workspace_id == workspace_id,
                                                     c.tree_size == tree_size))

    def latest(self, workspace_id: str) -> SignedCheckpoint | None:
        c = t.checkpoints.c
        return self._one(select(t.checkpoints).where(c.workspace_id == workspace_id)
                         .order_by(c.tree_size.desc()).limit(1))

    def page(self, workspace_id: str, order: str, after_size: int | None,
             limit: int) -> list[SignedCheckpoint]:
        c = t.checkpoints.c
        query = select(t.checkpoints).where(c.workspace_id == workspace_id)
        if after_size is not None:
            query = query.where(c.tree_size > after_size if order == ASC
                                else c.tree_size < after_size)
        query = query.order_by(c.tree_size.asc() if order == ASC else c.tree_size.desc())
        return [_checkpoint(row) for row in self._db.execute(query.limit(limit)).mappings()]

    def count(self, workspace_id: str) -> int:
        return self._db.execute(select(func.count()).select_from(t.checkpoints).where(
            t.checkpoints.c.workspace_id == workspace_id)).scalar_one()

    def due(self, signed_by: datetime, limit: int) -> list[str]:
        heads, c = t.chain_heads.c, t.checkpoints.c
        latest_size, latest_at = _latest(c.tree_size), _latest(c.created_at)
        rows = self._db.execute(
            select(heads.workspace_id)
            .where(or_(and_(latest_size.is_(None), heads.sequence > 0),
                       and_(heads.sequence > latest_size, latest_at <= signed_by)))
            .order_by(heads.workspace_id).limit(limit))
        return list(rows.scalars())

    def unsigned_backlog(self) -> tuple[int, datetime | None]:
        logs = _unsigned_logs()
        row = self._db.execute(select(func.coalesce(func.sum(logs.c.unsigned_events), 0),
                                      func.min(logs.c.waiting_since))).one()
        return int(row[0]), row[1]

    def unsigned_by_workspace(self, limit: int) -> list[UnsignedLog]:
        logs = _unsigned_logs()
        rows = self._db.execute(select(logs).order_by(
            logs.c.waiting_since.asc().nulls_last(), logs.c.workspace_id).limit(limit))
        return [UnsignedLog(*row) for row in rows]

    def _one(self, query: Any) -> SignedCheckpoint | None:
        row = self._db.execute(query).mappings().first()
        return _checkpoint(row) if row else None


def _latest(column):  # type: ignore[no-untyped-def]
    """A workspace's newest checkpoint's ``column`` (beside its chain head): a walk down
    the checkpoints' key."""
    c = t.checkpoints.c
    return (select(column).where(c.workspace_id == t.chain_heads.c.workspace_id)
            .order_by(c.tree_size.desc()).limit(1).scalar_subquery())


def _unsigned_logs() -> Subquery:
    """One row per workspace whose chain head is beyond its latest checkpoint: a scan of
    the chain heads (one row a workspace), two key lookups each, and one more for the
    first unsigned event of those behind; no event scan."""
    heads = t.chain_heads.c
    logs = select(heads.workspace_id, heads.sequence.label("head"),
                  func.coalesce(_latest(t.checkpoints.c.tree_size), 0).label("signed"),
                  _latest(t.checkpoints.c.created_at).label("signed_at")).subquery()
    first = t.events.alias("first_unsigned")
    arrived = first.c.received_at
    since = case((logs.c.signed_at.is_(None), arrived), (arrived.is_(None), logs.c.signed_at),
                 (logs.c.signed_at > arrived, logs.c.signed_at), else_=arrived)
    return (select(logs.c.workspace_id,
                   (logs.c.head - logs.c.signed).label("unsigned_events"),
                   type_coerce(since, UtcDateTime).label("waiting_since"))
            .select_from(logs.outerjoin(first, and_(
                first.c.workspace_id == logs.c.workspace_id,
                first.c.sequence == logs.c.signed + 1)))
            .where(logs.c.head > logs.c.signed).subquery())
