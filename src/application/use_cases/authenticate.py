"""Turn a presented API key and client address into a ``Principal``, or refuse."""

from __future__ import annotations

from application.errors import IpNotAllowed, Unauthenticated
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.principal import Principal
from domain.api_keys import LAST_USED_RESOLUTION, hash_secret, looks_like_key


class Authenticate:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def execute(self, secret: str, client_address: str) -> Principal:
        """Check key, expiry and revocation first, then the allowlist (contract §3 order)."""
        if not looks_like_key(secret):
            raise Unauthenticated()
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            found = uow.api_keys.find_by_hash(hash_secret(secret))
        if found is None:
            raise Unauthenticated()
        key, workspace = found
        if not key.matches(secret) or not key.is_active(now):
            raise Unauthenticated()
        if not workspace.allows(client_address):
            raise IpNotAllowed()
        if key.needs_usage_stamp(now):
            with self._uow_factory() as uow:
                uow.api_keys.stamp_usage(key.id, now, not_since=now - LAST_USED_RESOLUTION)
                uow.commit()
        return Principal(workspace, key)
