"""Who is calling: the authenticated key and its workspace, passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.errors import InsufficientScope
from domain.activity import Actor
from domain.api_keys import ApiKey
from domain.event_search import EventFilters, parse_filters
from domain.viewer_links import ViewerLink, narrowed
from domain.workspaces import Workspace


@dataclass(frozen=True)
class Principal:
    workspace: Workspace
    api_key: ApiKey
    viewer: ViewerLink | None = None
    """Set when the credential is a viewer link's: its filters bound every read."""

    @property
    def workspace_id(self) -> str:
        return self.workspace.id

    @property
    def viewer_link_id(self) -> str | None:
        return None if self.viewer is None else self.viewer.id

    def actor(self, ip_address: str | None, user_agent: str | None) -> Actor:
        """The caller as a record of a change names it: the key, or the viewer link."""
        if self.viewer is not None:
            return Actor(self.viewer.id, "viewer_link", self.viewer.title, ip_address,
                         user_agent)
        return Actor(self.api_key.id, "api_key", self.api_key.name, ip_address, user_agent)

    def require(self, scope: str, viewer: bool = False) -> None:
        """``viewer``: the operation is open to viewer links that grant ``scope``."""
        if self.viewer is None:
            if not self.api_key.allows(scope):
                raise InsufficientScope(scope)
        elif not viewer:
            # Said apart from a scope the link lacks: a link that reads events is refused
            # `verify` because it would read beyond the link's filters, not for 'events:read'.
            raise InsufficientScope(scope, "Viewer links cannot use this endpoint: a link "
                                           "reads only the events its filters select, with "
                                           "their proofs and the log's checkpoints.")
        elif not self.viewer.grants(scope):
            raise InsufficientScope(scope, f"This viewer link does not allow '{scope}'.")

    @property
    def within(self) -> EventFilters | None:
        """What a viewer link's reader may see (None: the whole workspace)."""
        return None if self.viewer is None else parse_filters(self.viewer.filters)

    def bounded(self, filters: dict[str, Any]) -> dict[str, Any]:
        """The filters a read may use: a viewer link's reader narrows the link's own,
        never widens them (``InvalidFilter``); anyone else reads as asked."""
        return filters if self.viewer is None else narrowed(self.viewer.filters, filters)
