"""Viewer links (contract §11): made, listed, read and revoked by a workspace's admins.

The link's credential is an API key holding only the ``viewer`` scope, with the link's
id: authentication, hashing, expiry, revocation, the credential cache and the workspace's
rate limit treat it as any key, and the link's row says what the key cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from application.activity import ActivityLog
from application.errors import NotFound
from application.pages import Page, list_page
from application.ports.rate_limits import CredentialChanges
from application.ports.system import Clock, IdGenerator, SecretGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.activity import Actor, Change
from domain.api_keys import DISPLAY_PREFIX_LENGTH, ApiKey, hash_secret
from domain.cursor import DESC, Position
from domain.errors import FieldError, ValidationFailed
from domain.event_search import FILTER_NAMES, InvalidFilter, is_filter, parse_filters
from domain.scopes import VIEWER
from domain.timestamps import format_timestamp
from domain.viewer_links import (
    MAX_LIFETIME_SECONDS,
    MAX_TITLE_LENGTH,
    MIN_LIFETIME_SECONDS,
    ViewerLink,
)


@dataclass(frozen=True)
class IssuedLink:
    link: ViewerLink
    token: str
    """The credential, shown once (in the link's URL); only its hash is kept."""


class CreateViewerLink:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 secrets: SecretGenerator, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._secrets = secrets
        self._activity = activity

    def execute(self, workspace_id: str, filters: dict[str, Any], expires_in_seconds: int,
                allow_export: bool = False, title: str | None = None,
                actor: Actor | None = None) -> IssuedLink:
        _check(filters, expires_in_seconds, title)
        now = self._clock.now()
        token, link_id = self._secrets.new_api_key(), self._ids.new("vwl")
        expires_at = now + timedelta(seconds=expires_in_seconds)
        key = ApiKey(id=link_id, workspace_id=workspace_id, name=title or "viewer link",
                     prefix=token[:DISPLAY_PREFIX_LENGTH], secret_hash=hash_secret(token),
                     scopes=(VIEWER,), created_at=now, expires_at=expires_at)
        link = ViewerLink(id=link_id, workspace_id=workspace_id, filters=dict(filters),
                          allow_export=allow_export, created_at=now, expires_at=expires_at,
                          title=title)
        with self._uow_factory() as uow:
            uow.api_keys.add(key)
            uow.viewer_links.add(link)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "viewer_link.created", "viewer_link", link.id, title,
                {"filters": dict(filters), "allow_export": allow_export,
                 "expires_at": format_timestamp(expires_at)}))
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
        return IssuedLink(link, token)


def _check(filters: dict[str, Any], expires_in_seconds: int, title: str | None) -> None:
    errors = []
    # A misspelt forced filter would be a link that shows everything: refused, not ignored.
    errors += [FieldError(f"filters.{name}", f"Unknown filter; one of: "
                                             f"{', '.join(FILTER_NAMES)}, metadata.<key>.")
               for name in sorted(filters) if not is_filter(name)]
    errors += [FieldError(f"filters.{name}", "Must be a string.")
               for name, value in sorted(filters.items()) if not isinstance(value, str)]
    if not errors:
        try:
            parse_filters(filters)
        except InvalidFilter as exc:
            errors.append(FieldError(f"filters.{exc.parameter}", str(exc)))
    if not MIN_LIFETIME_SECONDS <= expires_in_seconds <= MAX_LIFETIME_SECONDS:
        errors.append(FieldError("expires_in_seconds", f"From {MIN_LIFETIME_SECONDS} to "
                                                       f"{MAX_LIFETIME_SECONDS} seconds."))
    if title is not None and not 1 <= len(title.strip()) <= MAX_TITLE_LENGTH:
        errors.append(FieldError("title", f"1 to {MAX_TITLE_LENGTH} characters."))
    if errors:
        raise ValidationFailed(errors)


class ListViewerLinks:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None) -> Page[ViewerLink]:
        return list_page(self._uow_factory, lambda uow: uow.viewer_links, workspace_id, order,
                         limit, cursor, lambda link: Position(link.created_at, link.id))


class GetViewerLink:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, link_id: str) -> ViewerLink:
        with self._uow_factory(read_only=True) as uow:
            link = uow.viewer_links.get(workspace_id, link_id)
        if link is None:
            raise NotFound("viewer link", link_id)
        return link


class RevokeViewerLink:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock,
                 changes: CredentialChanges, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._changes = changes
        self._activity = activity

    def execute(self, workspace_id: str, link_id: str,
                actor: Actor | None = None) -> ViewerLink:
        """Idempotent; effective on the next request in every process (the change is
        announced to their credential caches, as a key's revocation is)."""
        now = self._clock.now()
        with self._uow_factory() as uow:
            link = uow.viewer_links.get(workspace_id, link_id)
            key = uow.api_keys.get(workspace_id, link_id)
            if link is None or key is None:
                raise NotFound("viewer link", link_id)
            if link.revoked_at is not None:
                return link
            link = replace(link, revoked_at=now)
            uow.viewer_links.update(link)
            uow.api_keys.update(key.revoked(now))
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "viewer_link.revoked", "viewer_link", link.id, link.title))
            uow.commit()
        self._changes.announce()
        if recorded:
            self._activity.wake(workspace_id)
        return link
