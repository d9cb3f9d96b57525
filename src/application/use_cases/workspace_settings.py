"""The caller's own workspace: read it, change its name, allowlist and retention."""

from __future__ import annotations

from typing import Any

from application.errors import NotFound
from application.ports.rate_limits import CredentialChanges
from application.ports.unit_of_work import UnitOfWorkFactory
from application.principal import Principal
from domain.workspaces import Workspace


class GetWorkspace:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str) -> Workspace:
        with self._uow_factory(read_only=True) as uow:
            workspace = uow.workspaces.get(workspace_id)
        if workspace is None:
            raise NotFound("workspace", workspace_id)
        return workspace


class UpdateWorkspace:
    def __init__(self, uow_factory: UnitOfWorkFactory, changes: CredentialChanges) -> None:
        self._uow_factory = uow_factory
        self._changes = changes

    def execute(self, principal: Principal, changes: dict[str, Any],
                caller_address: str) -> Workspace:
        """Takes effect on the next request in every process: the change is announced to
        their credential caches (an allowlist is checked with every request)."""
        with self._uow_factory() as uow:
            workspace = uow.workspaces.get(principal.workspace_id)
            if workspace is None:
                raise NotFound("workspace", principal.workspace_id)
            updated = workspace.with_settings(changes, caller_address)
            uow.workspaces.update(updated)
            uow.commit()
        self._changes.announce()
        return updated
