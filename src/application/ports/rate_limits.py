"""Rate-limit store port: one atomic decision per request, shared by every process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.rate_limit import Decision


@dataclass(frozen=True)
class VersionedDecision:
    """A decision and the credentials version current when it was made.

    ``decision`` is None when the version the caller expected is no longer current (and
    nothing was spent); ``version`` is None when processes share no version (a store of
    one process, or an unreachable one), so nothing learnt may be cached.
    """

    decision: Decision | None
    version: str | None


class RateLimiter(Protocol):
    def hit(self, key: str, limit: int) -> Decision:
        """Spend one request of ``limit`` a minute for ``key`` if it fits; atomically."""
        ...

    def peek(self, key: str, limit: int) -> Decision:
        """Whether a request would fit now, spending nothing."""
        ...

    def hit_if_current(self, key: str, limit: int, version: str | None) -> VersionedDecision:
        """``hit``, reading the credentials version in the same round trip; with ``version``
        given and no longer current, spend nothing. See ``CredentialChanges``."""
        ...


class CredentialChanges(Protocol):
    """The shared version of keys and workspace settings, for processes that cache them."""

    def announce(self) -> None:
        """A key or a workspace changed: every process must drop what it cached."""
        ...
