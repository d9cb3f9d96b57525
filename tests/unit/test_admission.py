"""Admission order: failed-auth guard before the key lookup, workspace budget after."""

from __future__ import annotations

import pytest

from adapters.inprocess.rate_limiter import InMemoryRateLimiter
from application.errors import RateLimited, Unauthenticated
from application.use_cases.admit_request import AdmitRequest, FailureMemory
from tests.unit.test_rate_limit import Clock
from tests.unit.test_use_cases import World


class CountingAuthenticate:
    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real = real
        self.calls = 0

    def execute(self, secret: str, address: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.real.execute(secret, address)


def test_failures_are_limited_per_address_before_any_lookup() -> None:
    world = World()
    authenticate = CountingAuthenticate(world.authenticate)
    admit = AdmitRequest(authenticate, InMemoryRateLimiter(Clock()),  # type: ignore[arg-type]
                         FailureMemory(world.clock))
    for _ in range(20):
        with pytest.raises(Unauthenticated):
            admit.execute("ak_" + "x" * 40, "198.51.100.7")
    with pytest.raises(RateLimited) as limited:
        admit.execute(world.admin.secret, "198.51.100.7")  # even a good key, from there
    assert authenticate.calls == 20 and limited.value.decision.retry_after_header >= 1
    assert admit.execute(world.admin.secret, "198.51.100.8").principal  # other addresses fine


def test_workspace_budget_is_shared_by_its_keys() -> None:
    world = World()
    other = world.keys.execute(world.workspace.id, "second", ["events:read"])
    admit = AdmitRequest(world.authenticate, InMemoryRateLimiter(Clock()),
                         FailureMemory(world.clock))
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
                         FailureMemory(world.clock))
    for _ in range(60):
        admit.execute(world.admin.secret, "198.51.100.1")
    with pytest.raises(RateLimited):
        admit.execute(world.admin.secret, "198.51.100.1")
    UpdateWorkspacePlan(world.uow).execute(world.workspace.id, "pro", None)
    assert admit.execute(world.admin.secret, "198.51.100.1").rate_limit.limit == 1000


def test_clean_addresses_cost_no_limiter_round_trip_before_the_lookup() -> None:
    world = World()

    class CountingLimiter(InMemoryRateLimiter):
        peeks = 0

        def peek(self, key: str, limit: int):  # type: ignore[no-untyped-def]
            CountingLimiter.peeks += 1
            return super().peek(key, limit)

    admit = AdmitRequest(world.authenticate, CountingLimiter(Clock()),
                         FailureMemory(world.clock))
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
