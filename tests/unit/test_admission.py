"""Admission order: failed-auth guard before the key lookup, workspace budget after; and
the credential cache that spares the lookup without delaying any change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from adapters.inprocess.rate_limiter import InMemoryRateLimiter
from application.credential_cache import CredentialCache
from application.errors import IpNotAllowed, RateLimited, Unauthenticated
from application.use_cases.admit_request import AdmitRequest, FailureMemory
from application.use_cases.api_keys import RevokeApiKey
from application.use_cases.workspace_settings import UpdateWorkspace
from application.use_cases.workspaces import UpdateWorkspacePlan
from tests.fakes import FakeMetadataRules, SharedLimiter
from tests.unit.test_rate_limit import Clock
from tests.unit.test_use_cases import World


class CountingAuthenticate:
    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.calls = 0

    def execute(self, secret: str, address: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.real.execute(secret, address)

    def recheck(self, principal, address: str):  # type: ignore[no-untyped-def]
        return self.real.recheck(principal, address)


def test_an_address_over_its_failure_budget_is_refused_only_keys_that_are_not_valid() -> None:
    """A NAT or a proxy: one tenant's misconfigured client must not lock out the others."""
    world = World()
    other = World()  # another tenant behind the same address, in its own store
    authenticate = CountingAuthenticate(world.authenticate)
    admit = AdmitRequest(authenticate, InMemoryRateLimiter(Clock()),  # type: ignore[arg-type]
                         FailureMemory(world.clock), CredentialCache(world.clock))
    bad = "ak_" + "x" * 40
    for _ in range(20):
        with pytest.raises(Unauthenticated):
            admit.execute(bad, "198.51.100.7")
    assert authenticate.calls == 20
    with pytest.raises(RateLimited) as limited:
        admit.execute(bad, "198.51.100.7")
    assert authenticate.calls == 20  # a bad key it already saw: refused without a lookup
    assert limited.value.decision.retry_after_header >= 1
    with pytest.raises(RateLimited):
        admit.execute("ak_" + "y" * 40, "198.51.100.7")  # a new bad key: looked up, refused
    assert authenticate.calls == 21
    assert admit.execute(world.admin.secret, "198.51.100.7").principal  # valid keys work
    authenticate.real = other.authenticate
    assert admit.execute(other.admin.secret, "198.51.100.7").principal.workspace_id \
        == other.workspace.id
    assert admit.execute(world.admin.secret, "198.51.100.8").principal  # other addresses fine


def test_workspace_budget_is_shared_by_its_keys() -> None:
    world = World()
    other = world.keys.execute(world.workspace.id, "second", ["events:read"])
    admit = AdmitRequest(world.authenticate, InMemoryRateLimiter(Clock()),
                         FailureMemory(world.clock), CredentialCache(world.clock))
    admitted = 0
    for n in range(100):
        try:
            admit.execute(world.admin.secret if n % 2 else other.secret, "198.51.100.1")
            admitted += 1
        except RateLimited:
            pass
    assert admitted == 60  # the free plan


def test_a_plan_change_applies_to_the_next_request() -> None:
    from application.use_cases.workspaces import UpdateWorkspacePlan
    world = World()
    admit = AdmitRequest(world.authenticate, InMemoryRateLimiter(Clock()),
                         FailureMemory(world.clock), CredentialCache(world.clock))
    for _ in range(60):
        admit.execute(world.admin.secret, "198.51.100.1")
    with pytest.raises(RateLimited):
        admit.execute(world.admin.secret, "198.51.100.1")
    UpdateWorkspacePlan(world.uow, world.changes, world.activity).execute(world.workspace.id,
                                                                          "pro", None)
    assert admit.execute(world.admin.secret, "198.51.100.1").rate_limit.limit == 1000


def test_clean_addresses_cost_no_limiter_round_trip_before_the_lookup() -> None:
    world = World()

    class CountingLimiter(InMemoryRateLimiter):
        peeks = 0

        def peek(self, key: str, limit: int):  # type: ignore[no-untyped-def]
            CountingLimiter.peeks += 1
            return super().peek(key, limit)

    admit = AdmitRequest(world.authenticate, CountingLimiter(Clock()),
                         FailureMemory(world.clock), CredentialCache(world.clock))
    for _ in range(5):
        admit.execute(world.admin.secret, "198.51.100.1")
    assert CountingLimiter.peeks == 0
    with pytest.raises(Unauthenticated):
        admit.execute("ak_" + "x" * 40, "198.51.100.1")
    admit.execute(world.admin.secret, "198.51.100.1")
    assert CountingLimiter.peeks == 1  # a suspect address is checked first
    world.clock.advance(minutes=1, seconds=1)
    admit.execute(world.admin.secret, "198.51.100.1")
    assert CountingLimiter.peeks == 1  # and forgiven after a quiet minute


class Process:
    """One server process: its own credential cache, the shared limiter."""

    def __init__(self, world: World, limiter: SharedLimiter, **cache: Any) -> None:
        self.lookups = CountingAuthenticate(world.authenticate)
        self.admit = AdmitRequest(self.lookups, limiter,  # type: ignore[arg-type]
                                  FailureMemory(world.clock),
                                  CredentialCache(world.clock, **cache))

    def request(self, secret: str, address: str = "198.51.100.1") -> Any:
        return self.admit.execute(secret, address)


@pytest.fixture
def shared() -> tuple[World, SharedLimiter]:
    return World(), SharedLimiter(InMemoryRateLimiter(Clock()))


def test_a_known_key_costs_no_lookup_once_cached(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    first, second = Process(world, limiter), Process(world, limiter)
    for _ in range(5):
        first.request(world.admin.secret)
        second.request(world.admin.secret)
    # a fresh process first learns the version, then caches what it reads under it
    assert (first.lookups.calls, second.lookups.calls) == (2, 2)
    assert limiter.spent == 10  # every request still counts against the budget


def test_a_revocation_applies_to_the_next_request_everywhere(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    other = world.keys.execute(world.workspace.id, "second", ["events:read"])
    processes = [Process(world, limiter) for _ in range(3)]
    for process in processes:
        process.request(other.secret)
        process.request(other.secret)
    RevokeApiKey(world.uow, world.clock, limiter, world.activity).execute(world.workspace.id,
                                                                          other.key.id)
    for process in processes:
        with pytest.raises(Unauthenticated):
            process.request(other.secret)
        assert process.lookups.calls == 3
    assert processes[0].request(world.admin.secret).principal  # other keys still work


def test_a_stale_entry_spends_nothing(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    process = Process(world, limiter)
    for _ in range(3):
        process.request(world.admin.secret)
    limiter.announce()  # some unrelated change elsewhere
    assert process.request(world.admin.secret).rate_limit.remaining == 60 - 4
    process.request(world.admin.secret)
    assert process.lookups.calls == 3  # one more, cached again under the new version


def test_allowlist_and_plan_changes_apply_to_cached_keys(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    process = Process(world, limiter)
    assert process.request(world.admin.secret, "198.51.100.1").rate_limit.limit == 60
    principal = world.authenticate.execute(world.admin.secret, "198.51.100.1")
    UpdateWorkspace(world.uow, limiter, world.activity, FakeMetadataRules()).execute(
        principal, {"ip_allowlist": ["203.0.113.0/24"]}, "203.0.113.9")
    with pytest.raises(IpNotAllowed):
        process.request(world.admin.secret, "198.51.100.1")
    UpdateWorkspacePlan(world.uow, limiter, world.activity).execute(world.workspace.id, "pro", None)
    assert process.request(world.admin.secret, "203.0.113.9").rate_limit.limit == 1000


def test_an_allowlist_widened_elsewhere_is_not_refused_from_the_cache(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    principal = world.authenticate.execute(world.admin.secret, "203.0.113.9")
    UpdateWorkspace(world.uow, limiter, world.activity, FakeMetadataRules()).execute(
        principal, {"ip_allowlist": ["203.0.113.0/24"]}, "203.0.113.9")
    process = Process(world, limiter)
    process.request(world.admin.secret, "203.0.113.9")
    # committed, announcement lost
    UpdateWorkspace(world.uow, world.changes, world.activity, FakeMetadataRules()).execute(
        principal, {"ip_allowlist": []}, "203.0.113.9")
    assert process.request(world.admin.secret, "198.51.100.1").principal


def test_nothing_is_cached_while_the_store_cannot_say(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    process = Process(world, limiter)
    process.request(world.admin.secret)
    process.request(world.admin.secret)  # cached from here on
    limiter.down = True
    for _ in range(3):
        process.request(world.admin.secret)
    assert process.lookups.calls == 2 + 3
    limiter.down = False
    process.request(world.admin.secret)
    assert process.lookups.calls == 2 + 3 + 1  # what it learnt before the outage was dropped


def test_a_request_fails_open_once_when_the_store_goes_down(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    process = Process(world, limiter)
    process.request(world.admin.secret)
    process.request(world.admin.secret)  # cached
    limiter.down = True
    assert process.request(world.admin.secret).rate_limit.allowed
    assert process.lookups.calls == 3  # the cache cannot be trusted: read afresh
    assert limiter.failed_open == 1  # but with the verdict the cached path already had


def test_a_change_during_the_lookup_is_not_cached(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    process = Process(world, limiter)
    process.request(world.admin.secret)  # learns the current version, caches nothing

    real = process.lookups.real.execute

    def lookup_then_change(secret: str, address: str):  # type: ignore[no-untyped-def]
        found = real(secret, address)
        limiter.announce()  # e.g. a revocation committed right after our read
        return found

    process.lookups.real.execute = lookup_then_change
    process.request(world.admin.secret)
    process.lookups.real.execute = real
    process.request(world.admin.secret)
    assert process.lookups.calls == 3  # the entry read across the change was not kept


def test_entries_age_out(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    process = Process(world, limiter, max_age=timedelta(seconds=10))
    process.request(world.admin.secret)
    process.request(world.admin.secret)
    world.clock.advance(seconds=9)
    process.request(world.admin.secret)
    world.clock.advance(seconds=1)
    process.request(world.admin.secret)
    assert process.lookups.calls == 3
    disabled = Process(world, limiter, max_age=timedelta(0))
    for _ in range(3):
        disabled.request(world.admin.secret)
    assert disabled.lookups.calls == 3


def test_cached_keys_still_expire_and_record_their_use(shared) -> None:  # type: ignore[no-untyped-def]
    world, limiter = shared
    issued = world.keys.execute(world.workspace.id, "short", ["events:read"],
                                world.clock.now() + timedelta(minutes=2))
    process = Process(world, limiter, max_age=timedelta(hours=1))

    def last_used() -> Any:
        with world.uow(read_only=True) as uow:
            return uow.api_keys.get(world.workspace.id, issued.key.id).last_used_at

    process.request(issued.secret)
    process.request(issued.secret)
    world.clock.advance(seconds=61)
    process.request(issued.secret)  # from the cache, and a stamp was due
    assert last_used() == world.clock.now() and process.lookups.calls == 2
    stamped = world.clock.now()
    world.clock.advance(seconds=30)
    process.request(issued.secret)  # read afresh after the stamp: no second stamp
    assert last_used() == stamped
    world.clock.advance(seconds=30)
    with pytest.raises(Unauthenticated):
        process.request(issued.secret)


def test_a_database_taking_no_writes_lets_a_key_in_unstamped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The usage stamp is bookkeeping: refused by a database left on a standby for a
    moment, the request goes on (its read can be answered), and a later one stamps."""
    from application.errors import WritesRefused
    from tests import fakes

    world = World()
    issued = world.keys.execute(world.workspace.id, "reader", ["events:read"], None)

    def refuse(*_: Any, **__: Any) -> None:
        raise WritesRefused()

    monkeypatch.setattr(fakes._ApiKeyRepo, "stamp_usage", refuse)
    let_in = world.authenticate.execute(issued.secret, "203.0.113.7")
    assert (let_in.api_key.id, let_in.api_key.last_used_at) == (issued.key.id, None)
    monkeypatch.undo()
    assert world.authenticate.execute(issued.secret, "203.0.113.7").api_key.last_used_at \
        == world.clock.now()
