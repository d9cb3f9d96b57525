"""Rate-limit store port: one atomic decision per request, shared by every process."""

from __future__ import annotations

from typing import Protocol

from domain.rate_limit import Decision


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> Decision:
        """Spend one request of ``limit`` a minute for ``key`` if it fits; atomically."""
        ...

    def peek(self, key: str, limit: int) -> Decision:
        """Whether a request would fit now, spending nothing."""
        ...
