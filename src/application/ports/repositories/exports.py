"""Exports."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.cursor import Position
from domain.exports import Export


class ExportRepository(Protocol):
    """``viewer_link_id`` narrows a read to the exports one viewer link asked for."""

    def add(self, export: Export) -> None: ...

    def get(self, workspace_id: str, export_id: str,
            viewer_link_id: str | None = None) -> Export | None: ...

    def find(self, export_id: str) -> Export | None:
        """By id alone - only for a signed link, whose signature is the authorization."""
        ...

    def lock(self, export_id: str) -> Export | None:
        """Read and hold until commit: one worker moves an export at a time."""
        ...

    def update(self, export: Export) -> None: ...

    def page(self, workspace_id: str, order: str, after: Position | None, limit: int,
             viewer_link_id: str | None = None) -> list[Export]: ...

    def count(self, workspace_id: str, viewer_link_id: str | None = None) -> int: ...

    def count_active(self, workspace_id: str, viewer_link_id: str | None = None) -> int:
        """Exports of the workspace (or of one of its links) still queued or running."""
        ...

    def queued_backlog(self) -> tuple[int, datetime | None]:
        """All workspaces: how many exports wait for a worker, and when the oldest was
        asked for."""
        ...

    def needing_upkeep(self, expire_by: datetime, silent_since: datetime,
                       queued_before: datetime, limit: int) -> list[Export]:
        """Completed exports due to expire, running ones whose heartbeat stopped, and queued
        ones whose job may have been lost."""
        ...
