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
from application.ports.metrics import AUTH_FAILURES_LIMIT, NO_METRICS, WORKSPACE_LIMIT, Metrics
from application.ports.rate_limits import RateLimiter, VersionedDecision
from application.ports.system import Clock
from application.principal import Principal
from application.use_cases.authenticate import Authenticate
from domain.api_keys import hash_secret
from domain.rate_limit import Decision

AUTH_FAILURES_PER_MINUTE = 20


class FailureMemory:
    """Addresses, and key digests, that failed to authenticate in this process during the
    last minute.

    Only those addresses are checked against the shared failure budget, so a well-behaved
    client costs no extra round trip. Another process's failures are learnt at the first
    failure here. The digests let a refused address's repeated bad key be answered without
    a lookup, which is what a misconfigured client sends.
    """

    def __init__(self, clock: Clock, memory: timedelta = timedelta(minutes=1),
                 max_entries: int = 100_000) -> None:
        timer = lambda: clock.now().timestamp()  # noqa: E731
        self._addresses: TTLCache[str, bool] = TTLCache(max_entries, memory.total_seconds(),
                                                        timer=timer)
        self._digests: TTLCache[str, bool] = TTLCache(max_entries, memory.total_seconds(),
                                                      timer=timer)
        self._lock = threading.Lock()

    def is_suspect(self, address: str) -> bool:
        with self._lock:
            return address in self._addresses

    def failed_before(self, digest: str) -> bool:
        with self._lock:
            return digest in self._digests

    def note_failure(self, address: str, digest: str) -> None:
        with self._lock:
            self._addresses[address] = True
            self._digests[digest] = True


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
        """Raise ``RateLimited`` for a key not recognised from an address that keeps
        failing, and after authentication when the workspace's budget is spent; requests
        are counted per workspace, whichever key or process they arrive through.

        An address over its failure budget may be a NAT or a proxy that many tenants share,
        so a valid key from it is still admitted: only keys that are not are refused (429,
        not 401), and one this process already saw fail costs no lookup at all.

        A key this process authenticated recently costs no lookup: the rate-limit round
        trip also says whether any key or workspace changed since (``CredentialCache``).
        """
        digest = hash_secret(secret)
        version = self._credentials.version
        cached = self._credentials.get(digest)
        blocked = None if cached is not None else self._blocked(client_address)
        if blocked is not None and self._memory.failed_before(digest):
            raise self._refused(blocked)
        unversioned: VersionedDecision | None = None
        if cached is not None:
            admission, unversioned = self._admit_cached(digest, cached, version,
                                                        client_address)
            if admission is not None:
                return admission
            version = self._credentials.version  # reported before the read that follows
        principal = self._authenticate_or_count_failure(secret, digest, client_address,
                                                        blocked)
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

    def _blocked(self, client_address: str) -> Decision | None:
        """The address's spent failure budget, if it is spent (None: not refusing)."""
        if not self._memory.is_suspect(client_address):
            return None
        decision = self._limiter.peek(_guard(client_address), self._failures)
        return None if decision.allowed else decision

    def _refused(self, blocked: Decision) -> RateLimited:
        self._metrics.rate_limited(AUTH_FAILURES_LIMIT)
        return RateLimited(blocked, "Too many failed authentication attempts from this "
                                    "address; retry later.")

    def _authenticate_or_count_failure(self, secret: str, digest: str, client_address: str,
                                       blocked: Decision | None) -> Principal:
        try:
            return self._authenticate.execute(secret, client_address)
        except Unauthenticated:
            self._memory.note_failure(client_address, digest)
            decision = self._limiter.hit(_guard(client_address), self._failures)
            if blocked is not None or not decision.allowed:
                raise self._refused(blocked or decision) from None
            raise

    def _admitted(self, principal: Principal, decision: Decision) -> Admission:
        if not decision.allowed:
            self._metrics.rate_limited(WORKSPACE_LIMIT)
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
