"""The workspace repository."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from adapters.sql import tables as t
from adapters.sql.erasure import erase_some
from adapters.sql.mappers import workspace_from, workspace_row
from domain.workspaces import Workspace, effective_retention_days


class SqlWorkspaceRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, workspace: Workspace) -> None:
        self._db.execute(insert(t.workspaces), workspace_row(workspace))

    def get(self, workspace_id: str) -> Workspace | None:
        row = self._db.execute(
            select(t.workspaces).where(t.workspaces.c.id == workspace_id)).mappings().first()
        return workspace_from(row) if row else None

    def update(self, workspace: Workspace) -> None:
        values = workspace_row(workspace)
        del values["id"], values["created_at"]
        self._db.execute(
            update(t.workspaces).where(t.workspaces.c.id == workspace.id).values(values))

    def list(self) -> list[Workspace]:
        rows = self._db.execute(
            select(t.workspaces).order_by(t.workspaces.c.created_at, t.workspaces.c.id))
        return [workspace_from(row) for row in rows.mappings()]

    def retention_periods(self) -> dict[str, int]:
        c = t.workspaces.c
        rows = self._db.execute(select(c.id, c.plan, c.retention_days).where(~c.legal_hold))
        return {workspace_id: days for workspace_id, plan, retention_days in rows
                if (days := effective_retention_days(plan, retention_days)) is not None}

    def erase_some(self, workspace_id: str, limit: int) -> int:
        return erase_some(self._db, workspace_id, limit)
