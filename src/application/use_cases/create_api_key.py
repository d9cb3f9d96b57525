"""Issue API keys: the secret is returned once and only its hash is stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from application.activity import ActivityLog
from application.errors import NotFound
from application.ports.system import Clock, IdGenerator, SecretGenerator
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.activity import Actor, Change
from domain.api_keys import DISPLAY_PREFIX_LENGTH, ApiKey, hash_secret
from domain.errors import FieldError, ValidationFailed
from domain.names import checked_name
from domain.scopes import UnknownScope, parse_scopes
from domain.timestamps import format_timestamp


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str


class CreateApiKey:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 secrets: SecretGenerator, activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._secrets = secrets
        self._activity = activity

    def execute(self, workspace_id: str, name: str, scopes: Iterable[str],
                expires_at: datetime | None = None, actor: Actor | None = None) -> IssuedKey:
        with self._uow_factory() as uow:
            workspace = uow.workspaces.get(workspace_id)
            if workspace is None:
                raise NotFound("workspace", workspace_id)
            issued = self.issue(uow, workspace_id, name, scopes, expires_at)
            recorded = self._activity.record(uow, workspace_id, actor, key_created(issued.key),
                                             workspace=workspace)
            uow.commit()
        if recorded:
            self._activity.wake(workspace_id)
        return issued

    def issue(self, uow: UnitOfWork, workspace_id: str, name: str, scopes: Iterable[str],
              expires_at: datetime | None = None) -> IssuedKey:
        """Add a key inside a caller's transaction (workspace creation issues the first one)."""
        try:
            parsed = parse_scopes(scopes)
        except UnknownScope as exc:
            raise ValidationFailed([FieldError("scopes", str(exc))]) from exc
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed([FieldError("expires_at", "Must be in the future.")])
        secret = self._secrets.new_api_key()
        key = ApiKey(id=self._ids.new("key"), workspace_id=workspace_id, name=checked_name(name),
                     prefix=secret[:DISPLAY_PREFIX_LENGTH], secret_hash=hash_secret(secret),
                     scopes=parsed, created_at=now, expires_at=expires_at)
        uow.api_keys.add(key)
        return IssuedKey(key, secret)


def key_created(key: ApiKey) -> Change:
    """What an auditor needs of a new key: its scopes and lifetime (never its secret)."""
    return Change("api_key.created", "api_key", key.id, key.name,
                  {"scopes": list(key.scopes), "prefix": key.prefix,
                   "expires_at": None if key.expires_at is None
                   else format_timestamp(key.expires_at)})
