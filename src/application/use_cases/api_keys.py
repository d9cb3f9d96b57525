"""Listing, reading, revoking and rolling a workspace's API keys (creation:
``create_api_key``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from application.activity import ActivityLog
from application.errors import Conflict, NotFound
from application.pages import Page, list_page
from application.ports.rate_limits import CredentialChanges
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.use_cases.create_api_key import CreateApiKey, IssuedKey, key_created
from application.use_cases.viewer_links import RevokeViewerLink
from domain.activity import Actor, Change
from domain.api_keys import MAX_ROLL_GRACE_SECONDS, ApiKey, hash_secret, looks_like_key
from domain.cursor import DESC, Position
from domain.errors import FieldError, ValidationFailed
from domain.timestamps import format_timestamp
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
                 changes: CredentialChanges, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._changes = changes
        self._activity = activity

    def execute(self, workspace_id: str, key_id: str, actor: Actor | None = None) -> ApiKey:
        """Idempotent: revoking a revoked key returns it unchanged (and records nothing).
        Effective on the next request in every process: the change is announced to their
        credential caches."""
        recorded = False
        with self._uow_factory() as uow:
            key = uow.api_keys.get(workspace_id, key_id)
            if key is None or is_viewer_link(key):  # revoked as a link, with its row
                raise NotFound("API key", key_id)
            revoked = key.revoked(self._clock.now())
            if revoked is not key:
                uow.api_keys.update(revoked)
                recorded = self._activity.record(
                    uow, workspace_id, actor,
                    Change("api_key.revoked", "api_key", key.id, key.name,
                           {"scopes": list(key.scopes), "prefix": key.prefix}))
                uow.commit()
        if revoked is not key:
            self._changes.announce()
        if recorded:
            self._activity.wake(workspace_id)
        return revoked


@dataclass(frozen=True)
class RolledKey:
    issued: IssuedKey
    """The successor, with its secret (shown once)."""
    replaced: ApiKey
    """The key rolled, now expiring."""


class RollApiKey:
    """Replace a key by a new one with the same name and scopes, the old one working for a
    grace period: whatever holds it is redeployed with the new secret meanwhile, so a
    rotation needs no downtime, and a leak is answered with no grace at all."""

    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, create_key: CreateApiKey,
                 changes: CredentialChanges, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._create_key = create_key
        self._changes = changes
        self._activity = activity

    def execute(self, workspace_id: str, key_id: str, expires_in_seconds: int = 0,
                expires_at: datetime | None = None, actor: Actor | None = None) -> RolledKey:
        """``expires_in_seconds``: how long the old key keeps working (0: stops at once);
        ``expires_at``: the new key's own expiry (none by default)."""
        if not 0 <= expires_in_seconds <= MAX_ROLL_GRACE_SECONDS:
            raise ValidationFailed([FieldError(
                "expires_in_seconds", f"From 0 (the old key stops at once) to "
                                      f"{MAX_ROLL_GRACE_SECONDS:,} seconds (7 days).")])
        now = self._clock.now()
        with self._uow_factory() as uow:
            key = uow.api_keys.get(workspace_id, key_id)
            if key is None or is_viewer_link(key):
                raise NotFound("API key", key_id)
            if not key.is_active(now):
                raise Conflict("This key is revoked or expired, so there is nothing to roll: "
                               "create a new key instead.")
            issued = self._create_key.issue(uow, workspace_id, key.name, key.scopes,
                                            expires_at)
            until = now + timedelta(seconds=expires_in_seconds)
            replaced = key.expiring_by(until)
            uow.api_keys.update(replaced)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "api_key.rolled", "api_key", key.id, key.name,
                {"replaced_by": issued.key.id, "prefix": key.prefix,
                 "expires_at": format_timestamp(replaced.expires_at or until)}))
            self._activity.record(uow, workspace_id, actor, key_created(issued.key))
            uow.commit()
        self._changes.announce()  # the old key's expiry applies from the next request on
        if recorded:
            self._activity.wake(workspace_id)
        return RolledKey(issued, replaced)


class RevokeKeyBySecret:
    """An operator's answer to a leaked key: the key itself is what they hold, not its id
    or its workspace, and the workspace's own admins may be out of reach. Viewer links'
    tokens are keys too, and are revoked as their links."""

    def __init__(self, uow_factory: UnitOfWorkFactory, revoke_key: RevokeApiKey,
                 revoke_link: RevokeViewerLink) -> None:
        self._uow_factory = uow_factory
        self._revoke_key = revoke_key
        self._revoke_link = revoke_link

    def execute(self, secret: str, actor: Actor | None = None) -> tuple[ApiKey, bool] | None:
        """The key, revoked, and whether it already was; None when no key has this secret
        (nothing of the secret goes into an error: it may be anything pasted)."""
        if not looks_like_key(secret):
            return None
        with self._uow_factory(read_only=True) as uow:
            found = uow.api_keys.find_by_hash(hash_secret(secret))
        if found is None:
            return None
        key, _ = found
        already = key.revoked_at is not None
        if is_viewer_link(key):
            link = self._revoke_link.execute(key.workspace_id, key.id, actor)
            return replace(key, revoked_at=link.revoked_at), already
        return self._revoke_key.execute(key.workspace_id, key.id, actor), already
