"""Listing, reading and revoking a workspace's API keys (creation: ``create_api_key``)."""

from __future__ import annotations

from application.errors import NotFound
from application.pages import Page, list_page
from application.ports.rate_limits import CredentialChanges
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.api_keys import ApiKey
from domain.cursor import DESC, Position
from domain.viewer_links import VIEWER_LINK_PREFIX


def is_viewer_link(key: ApiKey) -> bool:
    return key.id.startswith(VIEWER_LINK_PREFIX)


def _position(key: ApiKey) -> Position:
    return Position(key.created_at, key.id)


class ListApiKeys:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None) -> Page[ApiKey]:
        return list_page(self._uow_factory, lambda uow: uow.api_keys, workspace_id, order,
                         limit, cursor, _position)


class GetApiKey:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, key_id: str) -> ApiKey:
        with self._uow_factory(read_only=True) as uow:
            key = uow.api_keys.get(workspace_id, key_id)
        if key is None or is_viewer_link(key):
            raise NotFound("API key", key_id)
        return key


class RevokeApiKey:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 changes: CredentialChanges) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._changes = changes

    def execute(self, workspace_id: str, key_id: str) -> ApiKey:
        """Idempotent: revoking a revoked key returns it unchanged. Effective on the next
        request in every process: the change is announced to their credential caches."""
        with self._uow_factory() as uow:
            key = uow.api_keys.get(workspace_id, key_id)
            if key is None or is_viewer_link(key):  # revoked as a link, with its row
                raise NotFound("API key", key_id)
            revoked = key.revoked(self._clock.now())
            if revoked is not key:
                uow.api_keys.update(revoked)
                uow.commit()
        if revoked is not key:
            self._changes.announce()
        return revoked
