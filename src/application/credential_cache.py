"""Keys this process authenticated recently, so a steady client costs no lookup per request.

An entry is only as good as the credentials version it was read under. Every request asks
the rate limiter for its decision and, in the same round trip, for the current version;
revoking a key or changing a workspace announces a new version, and the next request in
every process finds its entries stale and reads the database again. That keeps revocation
effective on the next request everywhere, at no extra round trip.

An entry is stored only when the version seen after its database read equals the one seen
before it: a change committed in between could otherwise be cached as if it had not
happened. Entries also expire after ``max_age``, which bounds how long a change announced
while the shared store was unreachable can go unnoticed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from application.ports.system import Clock
from application.principal import Principal

DEFAULT_MAX_AGE = timedelta(seconds=10)


class CredentialCache:
    def __init__(self, clock: Clock, max_age: timedelta = DEFAULT_MAX_AGE,
                 max_entries: int = 10_000) -> None:
        self._clock = clock
        self._max_age = max_age
        self._max_entries = max_entries
        self._entries: OrderedDict[str, tuple[Principal, datetime]] = OrderedDict()
        self._version: str | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        """The credentials version every entry was read under (None: cache nothing)."""
        return self._version

    def get(self, secret_hash: str) -> Principal | None:
        with self._lock:
            entry = self._entries.get(secret_hash)
            if entry is None:
                return None
            if self._clock.now() - entry[1] >= self._max_age:
                del self._entries[secret_hash]
                return None
            return entry[0]

    def put(self, secret_hash: str, principal: Principal, read_under: str | None) -> None:
        """Keep ``principal`` if it was read under the current version."""
        if read_under is None or self._max_age <= timedelta(0):
            return
        with self._lock:
            if read_under != self._version:
                return
            self._entries[secret_hash] = (principal, self._clock.now())
            self._entries.move_to_end(secret_hash)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def replace(self, secret_hash: str, principal: Principal) -> None:
        """Update a cached principal this process changed itself (its ``last_used_at``)."""
        with self._lock:
            entry = self._entries.get(secret_hash)
            if entry is not None:
                self._entries[secret_hash] = (principal, entry[1])

    def observe(self, version: str | None) -> None:
        """The version the store just reported; a different one drops every entry."""
        with self._lock:
            if version != self._version or version is None:
                self._entries.clear()
                self._version = version
