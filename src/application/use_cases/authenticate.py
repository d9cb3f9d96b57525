"""Turn a presented API key and client address into a ``Principal``, or refuse."""

from __future__ import annotations

from dataclasses import replace

from application.errors import IpNotAllowed, Unauthenticated, WritesRefused
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.principal import Principal
from domain.api_keys import LAST_USED_RESOLUTION, hash_secret, looks_like_key
from domain.scopes import VIEWER


class Authenticate:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def execute(self, secret: str, client_address: str) -> Principal:
        """Look the key up, then check it as ``recheck`` does (contract §3 order)."""
        if not looks_like_key(secret):
            raise Unauthenticated()
        with self._uow_factory(read_only=True) as uow:
            found = uow.api_keys.find_by_hash(hash_secret(secret))
            if found is None:
                raise Unauthenticated()
            key, workspace = found
            if not key.matches(secret):
                raise Unauthenticated()
            viewer = uow.viewer_links.get(workspace.id, key.id) \
                if VIEWER in key.scopes else None
        if VIEWER in key.scopes and viewer is None:
            raise Unauthenticated()
        return self.recheck(Principal(workspace, key, viewer), client_address)

    def recheck(self, principal: Principal, client_address: str) -> Principal:
        """Expiry and revocation, then the allowlist: the checks that depend on the moment
        and the caller, so they run on every request, for cached principals too. Returns
        the principal with ``last_used_at`` stamped when a stamp was due."""
        now = self._clock.now()
        key = principal.api_key
        if not key.is_active(now):
            raise Unauthenticated()
        if not principal.workspace.allows(client_address):
            raise IpNotAllowed()
        if not key.needs_usage_stamp(now):
            return principal
        try:
            with self._uow_factory(single_write=True) as uow:
                uow.api_keys.stamp_usage(key.id, now, not_since=now - LAST_USED_RESOLUTION)
                uow.commit()
        except WritesRefused:
            # Bookkeeping: a database that takes no writes for a moment still answers
            # reads, and the stamp is made by a later request.
            return principal
        return replace(principal, api_key=replace(key, last_used_at=now))
