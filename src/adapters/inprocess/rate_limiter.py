"""In-memory rate-limit store for the embedded profile (one process, many threads)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from application.ports.rate_limits import VersionedDecision
from domain.rate_limit import Decision, decide, peek


class InMemoryRateLimiter:
    """Keeps each key's theoretical arrival time in a dict under one lock."""

    def __init__(self, clock: Callable[[], float] = time.time, prune_every: int = 10_000) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()
        self._prune_every = prune_every
        self._hits = 0

    def hit(self, key: str, limit: int) -> Decision:
        with self._lock:
            now = self._clock()
            decision = decide(self._tats.get(key), now, limit)
            if decision.allowed:
                self._tats[key] = decision.tat
            self._hits += 1
            if self._hits % self._prune_every == 0:
                self._prune(now)
            return decision

    def hit_if_current(self, key: str, limit: int, version: str | None) -> VersionedDecision:
        """No version: the CLI changes keys and workspaces from other processes, which
        this store cannot hear of, so nothing may be cached against it."""
        return VersionedDecision(self.hit(key, limit), None)

    def announce(self) -> None:
        """Nothing to tell: with no version, no process caches credentials."""

    def peek(self, key: str, limit: int) -> Decision:
        with self._lock:
            return peek(self._tats.get(key), self._clock(), limit)

    def _prune(self, now: float) -> None:
        """Forget keys whose allowance is full again: they hold no information."""
        for key in [key for key, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
