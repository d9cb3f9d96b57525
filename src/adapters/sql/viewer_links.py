"""Viewer links' own row; their credential is the API key of the same id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.keyset import count_of, created_page
from domain.cursor import Position
from domain.viewer_links import ViewerLink


class SqlViewerLinkRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, link: ViewerLink) -> None:
        self._db.execute(insert(t.viewer_links), _row(link))

    def get(self, workspace_id: str, link_id: str) -> ViewerLink | None:
        row = self._db.execute(select(t.viewer_links).where(
            t.viewer_links.c.workspace_id == workspace_id,
            t.viewer_links.c.id == link_id)).mappings().first()
        return _link(row) if row else None

    def update(self, link: ViewerLink) -> None:
        self._db.execute(update(t.viewer_links).where(
            t.viewer_links.c.workspace_id == link.workspace_id,
            t.viewer_links.c.id == link.id).values(revoked_at=link.revoked_at))

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ViewerLink]:
        return [_link(row) for row in created_page(self._db, t.viewer_links, workspace_id,
                                                    order, after, limit)]

    def count(self, workspace_id: str) -> int:
        return count_of(self._db, t.viewer_links, workspace_id)


def _row(link: ViewerLink) -> dict[str, Any]:
    return {"id": link.id, "workspace_id": link.workspace_id, "filters": link.filters,
            "allow_export": link.allow_export, "title": link.title,
            "created_at": link.created_at, "expires_at": link.expires_at,
            "revoked_at": link.revoked_at}


def _link(row: RowMapping) -> ViewerLink:
    return ViewerLink(id=row["id"], workspace_id=row["workspace_id"],
                      filters=dict(row["filters"]), allow_export=row["allow_export"],
                      created_at=row["created_at"], expires_at=row["expires_at"],
                      title=row["title"], revoked_at=row["revoked_at"])
