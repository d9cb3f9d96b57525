"""Who is calling: the authenticated key and its workspace, passed to every use case."""

from __future__ import annotations

from dataclasses import dataclass

from application.errors import InsufficientScope
from domain.api_keys import ApiKey
from domain.workspaces import Workspace


@dataclass(frozen=True)
class Principal:
    workspace: Workspace
    api_key: ApiKey

    @property
    def workspace_id(self) -> str:
        return self.workspace.id

    def require(self, scope: str) -> None:
        if not self.api_key.allows(scope):
            raise InsufficientScope(scope)
