"""Workspaces, their API keys and the credentials sealed for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.api_keys import ApiKey
from domain.cursor import Position
from domain.workspaces import Workspace


class WorkspaceRepository(Protocol):
    def add(self, workspace: Workspace) -> None: ...
    def get(self, workspace_id: str) -> Workspace | None: ...
    def update(self, workspace: Workspace) -> None: ...
    def list(self) -> list[Workspace]: ...

    def retention_periods(self) -> dict[str, int]:
        """Each workspace's effective retention in days, for those that have one and no
        legal hold: what every retention run reads, without building every workspace."""
        ...

    def erase_some(self, workspace_id: str, limit: int) -> int:
        """Delete up to ``limit`` of the workspace's stored rows, those that refer to
        others first and the workspace itself last; return how many (0: it is gone)."""
        ...


class ApiKeyRepository(Protocol):
    def add(self, key: ApiKey) -> None: ...
    def get(self, workspace_id: str, key_id: str) -> ApiKey | None: ...
    def update(self, key: ApiKey) -> None: ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ApiKey]:
        """Up to ``limit`` keys after ``after`` in ``(created_at, id)`` order."""
        ...

    def count(self, workspace_id: str) -> int: ...

    def find_by_hash(self, secret_hash: str) -> tuple[ApiKey, Workspace] | None:
        """The key with this hash and its workspace, in one lookup (the hot path of auth)."""
        ...
    def stamp_usage(self, key_id: str, now: datetime, not_since: datetime) -> None:
        """Set ``last_used_at`` unless another process already did after ``not_since``."""
        ...

    def revoke_all(self, workspace_id: str, now: datetime) -> int:
        """Revoke every key of the workspace not yet revoked, viewer links' included;
        return how many."""
        ...


@dataclass(frozen=True)
class SealedCredential:
    kind: str
    """``stream`` or ``alert_rule``."""
    id: str
    sealed: bytes


class SealedCredentialRepository(Protocol):
    """Every workspace's sealed credentials: only for re-sealing them under a new key."""

    def page(self, after: SealedCredential | None, limit: int) -> list[SealedCredential]: ...

    def replace(self, credential: SealedCredential) -> None: ...
