"""The export repository."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.keyset import count_of, created_page
from domain.cursor import Position
from domain.exports import ACTIVE, COMPLETED, QUEUED, RUNNING, Export

_FIELDS = ("id", "workspace_id", "format", "gzip", "filters", "status", "created_at",
           "started_at", "completed_at", "expires_at", "heartbeat_at", "row_count",
           "size_bytes", "sha256", "error", "attempts", "first_sequence", "last_sequence",
           "viewer_link_id")


def _row(export: Export) -> dict[str, Any]:
    return {name: getattr(export, name) for name in _FIELDS}


def _export(row: RowMapping) -> Export:
    return Export(**{name: row[name] for name in _FIELDS})


def _of_link(viewer_link_id: str | None) -> tuple[Any, ...]:
    """Narrows a query to one viewer link's exports (None: the whole workspace's)."""
    return () if viewer_link_id is None else (t.exports.c.viewer_link_id == viewer_link_id,)


class SqlExportRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, export: Export) -> None:
        self._db.execute(insert(t.exports), _row(export))

    def get(self, workspace_id: str, export_id: str,
            viewer_link_id: str | None = None) -> Export | None:
        return self._one(select(t.exports).where(t.exports.c.workspace_id == workspace_id,
                                                 t.exports.c.id == export_id,
                                                 *_of_link(viewer_link_id)))

    def find(self, export_id: str) -> Export | None:
        return self._one(select(t.exports).where(t.exports.c.id == export_id))

    def lock(self, export_id: str) -> Export | None:
        return self._one(select(t.exports).where(t.exports.c.id == export_id)
                         .with_for_update())

    def update(self, export: Export) -> None:
        values = _row(export)
        del values["id"], values["workspace_id"]
        self._db.execute(update(t.exports).where(t.exports.c.id == export.id).values(values))

    def page(self, workspace_id: str, order: str, after: Position | None, limit: int,
             viewer_link_id: str | None = None) -> list[Export]:
        rows = created_page(self._db, t.exports, workspace_id, order, after, limit,
                            *_of_link(viewer_link_id))
        return [_export(row) for row in rows]

    def count(self, workspace_id: str, viewer_link_id: str | None = None) -> int:
        if viewer_link_id is None:
            return count_of(self._db, t.exports, workspace_id)
        return self._count(t.exports.c.workspace_id == workspace_id, *_of_link(viewer_link_id))

    def count_active(self, workspace_id: str, viewer_link_id: str | None = None) -> int:
        c = t.exports.c
        return self._count(c.workspace_id == workspace_id, c.status.in_(ACTIVE),
                           *_of_link(viewer_link_id))

    def _count(self, *conditions: Any) -> int:
        return self._db.execute(select(func.count()).select_from(t.exports)
                                .where(*conditions)).scalar_one()

    def queued_backlog(self) -> tuple[int, datetime | None]:
        c = t.exports.c
        row = self._db.execute(select(func.count(), func.min(c.created_at))
                               .where(c.status == QUEUED)).one()
        return row[0], row[1]

    def needing_upkeep(self, expire_by: datetime, silent_since: datetime,
                       queued_before: datetime, limit: int) -> list[Export]:
        c = t.exports.c
        rows = self._db.execute(select(t.exports).where(or_(
            and_(c.status == COMPLETED, c.expires_at <= expire_by),
            and_(c.status == RUNNING, c.heartbeat_at <= silent_since),
            and_(c.status == QUEUED, c.created_at <= queued_before),
        )).order_by(c.created_at).limit(limit).with_for_update(skip_locked=True)).mappings()
        return [_export(row) for row in rows]

    def _one(self, query: Any) -> Export | None:
        row = self._db.execute(query).mappings().first()
        return _export(row) if row else None
