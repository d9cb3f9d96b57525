"""One keyset page over a table ordered by ``(created_at, id)``, for the list endpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select, tuple_
from sqlalchemy.engine import RowMapping

from domain.cursor import ASC, Position


def created_page(db: Connection, table: Table, workspace_id: str, order: str,
                 after: Position | None, limit: int, *conditions: Any) -> list[RowMapping]:
    """``limit`` rows of one workspace (narrowed by ``conditions``) after ``after``: an
    index range scan, never OFFSET."""
    key = tuple_(table.c.created_at, table.c.id)
    query = select(table).where(table.c.workspace_id == workspace_id, *conditions)
    if after is not None:
        boundary = tuple_(after.at, after.id)
        query = query.where(key > boundary if order == ASC else key < boundary)
    direction = [column.asc() if order == ASC else column.desc()
                 for column in (table.c.created_at, table.c.id)]
    return list(db.execute(query.order_by(*direction).limit(limit)).mappings())


def count_of(db: Connection, table: Table, workspace_id: str) -> int:
    return db.execute(select(func.count()).select_from(table).where(
        table.c.workspace_id == workspace_id)).scalar_one()
