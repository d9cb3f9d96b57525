"""An operator offboarding a tenant: the workspace and everything it holds, for good.

Access ends first, in a transaction of its own that every process's credential cache is
told of: from the next request on, none of the workspace's keys or viewer links opens
anything, however long the rest takes. Export files go next, while their rows still name
them, so that a deletion stopped anywhere leaves nothing a second run cannot find. The rows
then go in bounded chunks, a transaction each, every one under the chain's lock so that no
worker is linking the workspace's events meanwhile; jobs still queued for it find nothing
to do, and the scheduled checks of its chain stop with its access, since its events going
one chunk after another would look like tampering to them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from application.errors import NotFound, UnderLegalHold
from application.ports.blobs import BlobStore
from application.ports.rate_limits import CredentialChanges
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.cursor import ASC, Position
from domain.event_search import EventFilters
from domain.workspaces import Workspace

log = logging.getLogger(__name__)

CHUNK = 5_000


@dataclass(frozen=True)
class WorkspaceContents:
    """What a deletion would remove, for the operator to confirm."""

    workspace: Workspace
    events: int
    api_keys: int
    viewer_links: int
    streams: int
    alert_rules: int
    exports: int


class DeleteWorkspace:
    def __init__(self, uow_factory: UnitOfWorkFactory, blobs: BlobStore, clock: Clock,
                 changes: CredentialChanges, chunk: int = CHUNK) -> None:
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._clock = clock
        self._changes = changes
        self._chunk = chunk

    def contents(self, workspace_id: str) -> WorkspaceContents:
        with self._uow_factory(read_only=True) as uow:
            workspace = _existing(uow, workspace_id)
            return WorkspaceContents(
                workspace, events=uow.events.count(workspace_id, EventFilters()),
                api_keys=uow.api_keys.count(workspace_id),
                viewer_links=uow.viewer_links.count(workspace_id),
                streams=uow.streams.count(workspace_id),
                alert_rules=uow.alert_rules.count(workspace_id),
                exports=uow.exports.count(workspace_id))

    def execute(self, workspace_id: str) -> int:
        """Delete the workspace; return how many rows went. Run again after an
        interruption, it finishes what the first run began."""
        with self._uow_factory() as uow:
            _existing(uow, workspace_id)
            revoked = uow.api_keys.revoke_all(workspace_id, self._clock.now())
            uow.chain_checks.retire(workspace_id)
            uow.commit()
        if revoked:
            self._changes.announce()
        exports = self._delete_files(workspace_id)
        removed = 0
        while True:
            with self._uow_factory() as uow:
                uow.chains.lock(workspace_id)
                deleted = uow.workspaces.erase_some(workspace_id, self._chunk)
                uow.commit()
            if not deleted:
                break
            removed += deleted
        log.info("workspace %s deleted: %d rows, the files of %d exports", workspace_id,
                 removed, exports)
        return removed

    def _delete_files(self, workspace_id: str) -> int:
        """Every export's file, whatever its status (a missing one is no error); return
        how many exports there were."""
        deleted = 0
        after: Position | None = None
        while True:
            with self._uow_factory(read_only=True) as uow:
                exports = uow.exports.page(workspace_id, ASC, after, 500)
            for export in exports:
                self._blobs.delete(export.blob_key)
            deleted += len(exports)
            if len(exports) < 500:
                return deleted
            after = Position(exports[-1].created_at, exports[-1].id)


def _existing(uow: UnitOfWork, workspace_id: str) -> Workspace:
    """The workspace, if it may be deleted: a legal hold keeps it, and so everything in it."""
    workspace = uow.workspaces.get(workspace_id)
    if workspace is None:
        raise NotFound("workspace", workspace_id)
    if workspace.legal_hold:
        raise UnderLegalHold(workspace_id)
    return workspace
