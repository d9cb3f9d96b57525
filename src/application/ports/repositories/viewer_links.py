"""Viewer links."""

from __future__ import annotations

from typing import Protocol

from domain.cursor import Position
from domain.viewer_links import ViewerLink


class ViewerLinkRepository(Protocol):
    def add(self, link: ViewerLink) -> None: ...
    def get(self, workspace_id: str, link_id: str) -> ViewerLink | None: ...
    def update(self, link: ViewerLink) -> None:
        """Its revocation: the only thing about a link that changes."""
        ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ViewerLink]: ...

    def count(self, workspace_id: str) -> int: ...
