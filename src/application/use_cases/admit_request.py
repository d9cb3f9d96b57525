"""Admission of an API request: failed-auth guard, authentication, then the workspace's
rate limit - in that order, so a rejected request costs as little as possible."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeGuard

from cachetools import TTLCache

from application.credential_cache import CredentialCache
from application.errors import IpNotAllowed, RateLimited, Unauthenticated
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.rate_limits import RateLimiter, VersionedDecision
from application.ports.system import Clock
from application.principal import Principal
from application.use_cases.authenticate import Authenticate
from domain.api_keys import hash_secret
from domain.rate_limit import Decision

AUTH_FAILURES_PER_MINUTE = 20


class FailureMemory:
    """Addresses that failed to authenticate in this process during the last minute.

    Only those are checked against the shared failure budget before their key is looked
    up, so a well-behaved client costs no extra round trip. Another process's failures are
    learnt at the first failure here: across N processes at most N extra lookups slip
    through once an address's shared budget is spent.
    """

    def __init__(self, clock: Clock, memory: timedelta = timedelta(minutes=1),
                 max_entries: int = 100_000) -> None:
        self._failed: TTLCache[str, bool] = TTLCache(
            max_entries, memory.total_seconds(), timer=lambda: clock.now().timestamp())
        self._lock = threading.Lock()

    def is_suspect(self, address: str) -> bool:
        with self._lock:
            return address in self._failed

    def note_failure(self, address: str) -> None:
        with self._lock:
            self._failed[address] = True


@dataclass(frozen=True)
class Admission:
    principal: Principal
    rate_limit: Decision


class AdmitRequest:
    def __init__(self, authenticate: Authenticate, limiter: RateLimiter,
                 failures: FailureMemory, credentials: CredentialCache,
                 auth_failures_per_minute: int = AUTH_FAILURES_PER_MINUTE,
                 metrics: Metrics = NO_METRICS) -> None:
        self._metrics = metrics
        self._memory = failures
        self._authenticate = authenticate
        self._limiter = limiter
        self._credentials = credentials
        self._failures = auth_failures_per_minute

    def execute(self, secret: str, client_address: str) -> Admission:
        """Raise ``RateLimited`` before the key lookup once an address keeps failing, and
        after authentication when the workspace's budget is spent; requests are counted per
        workspace, whichever key or process they arrive through.

        A key this process authenticated recently costs no lookup: the rate-limit round
        trip also says whether any key or workspace changed since (``CredentialCache``).
        """
        self._guard_failures(client_address)
        digest = hash_secret(secret)
        version = self._credentials.version
        cached = self._credentials.get(digest)
        unversioned: VersionedDecision | None = None
        if cached is not None:
            admission, unversioned = self._admit_cached(digest, cached, version,
                                                        client_address)
            if admission is not None:
                return admission
            version = self._credentials.version  # reported before the read that follows
        principal = self._authenticate_or_count_failure(secret, client_address)
        if _still_applies(unversioned, principal):
            outcome = unversioned  # decided once already: not spent or counted twice
        else:
            outcome = self._limiter.hit_if_current(_budget(principal), _limit(principal), None)
        self._credentials.observe(outcome.version)
        self._credentials.put(digest, principal, read_under=version)
        if outcome.decision is None:
            raise RuntimeError("the rate limiter refused a version check nobody asked for")
        return self._admitted(principal, outcome.decision)

    def _admit_cached(self, digest: str, cached: Principal, version: str | None,
                      client_address: str) -> tuple[Admission | None, VersionedDecision | None]:
        """No admission when the cached principal cannot be trusted: the version moved, or
        the store could not say, or a check failed (a fresh read decides those). When the
        store could not say, its decision comes back too: the fresh read reuses it rather
        than fail open (and count the failure) a second time for one request."""
        try:
            principal = self._authenticate.recheck(cached, client_address)
        except (Unauthenticated, IpNotAllowed):
            return None, None
        if principal is not cached:  # stamped: the next request reads it afresh
            self._credentials.forget(digest)
        outcome = self._limiter.hit_if_current(_budget(principal), _limit(principal), version)
        self._credentials.observe(outcome.version)
        if outcome.version is None:
            return None, outcome
        if outcome.decision is None:
            return None, None
        return self._admitted(principal, outcome.decision), None

    def _guard_failures(self, client_address: str) -> None:
        if not self._memory.is_suspect(client_address):
            return
        blocked = self._limiter.peek(_guard(client_address), self._failures)
        if not blocked.allowed:
            self._metrics.rate_limited("auth_failures")
            raise RateLimited(blocked, "Too many failed authentication attempts from "
                                       "this address; retry later.")

    def _authenticate_or_count_failure(self, secret: str, client_address: str) -> Principal:
        try:
            return self._authenticate.execute(secret, client_address)
        except Unauthenticated:
            self._memory.note_failure(client_address)
            self._limiter.hit(_guard(client_address), self._failures)
            raise

    def _admitted(self, principal: Principal, decision: Decision) -> Admission:
        if not decision.allowed:
            self._metrics.rate_limited("workspace")
            raise RateLimited(decision, f"Rate limit of {decision.limit} requests a minute "
                                        f"exceeded; retry after {decision.retry_after_header} s.")
        return Admission(principal, decision)


def _still_applies(outcome: VersionedDecision | None,
                   principal: Principal) -> TypeGuard[VersionedDecision]:
    """A key never changes workspace, so the same limit means the same budget."""
    return (outcome is not None and outcome.decision is not None
            and outcome.decision.limit == _limit(principal))


def _guard(client_address: str) -> str:
    return f"auth-failures:{client_address}"


def _limit(principal: Principal) -> int:
    return principal.workspace.rate_limit_per_minute


def _budget(principal: Principal) -> str:
    """The limit is part of the key: a plan change starts a fresh allowance at once."""
    return f"workspace:{principal.workspace_id}:{_limit(principal)}"
