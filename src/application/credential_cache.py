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
from datetime import timedelta

from cachetools import TTLCache

from application.ports.system import Clock
from application.principal import Principal

DEFAULT_MAX_AGE = timedelta(seconds=10)


class CredentialCache:
    def __init__(self, clock: Clock, max_age: timedelta = DEFAULT_MAX_AGE,
                 max_entries: int = 10_000) -> None:
        self._enabled = max_age > timedelta(0)
        self._entries: TTLCache[str, Principal] = TTLCache(
            max_entries, max_age.total_seconds(), timer=lambda: clock.now().timestamp())
        self._version: str | None = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str | None:
        """The credentials version every entry was read under (None: cache nothing)."""
        return self._version

    def get(self, secret_hash: str) -> Principal | None:
        with self._lock:
            return self._entries.get(secret_hash)

    def put(self, secret_hash: str, principal: Principal, read_under: str | None) -> None:
        """Keep ``principal`` if it was read under the current version."""
        if read_under is None or not self._enabled:
            return
        with self._lock:
            if read_under == self._version:
                self._entries[secret_hash] = principal

    def forget(self, secret_hash: str) -> None:
        with self._lock:
            self._entries.pop(secret_hash, None)

    def observe(self, version: str | None) -> None:
        """The version the store just reported; a different one drops every entry."""
        with self._lock:
            if version != self._version or version is None:
                self._entries.clear()
                self._version = version
