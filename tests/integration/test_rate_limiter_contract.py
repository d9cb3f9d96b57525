"""The same contract for both rate-limit stores: in-memory and the Redis script."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from adapters.inprocess.rate_limiter import InMemoryRateLimiter
from adapters.redis_store.rate_limiter import RedisRateLimiter


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "memory":
        return InMemoryRateLimiter()
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    return RedisRateLimiter(client, prefix=f"test:{uuid.uuid4().hex}:")


def test_burst_up_to_the_limit_then_refused(limiter) -> None:  # type: ignore[no-untyped-def]
    decisions = [limiter.hit("k", 30) for _ in range(40)]
    assert sum(d.allowed for d in decisions) == 30
    assert [d.remaining for d in decisions[:3]] == [29, 28, 27]
    refused = decisions[-1]
    assert not refused.allowed and 0 < refused.retry_after <= 2.0
    assert refused.retry_after_header >= 1 and refused.reset_header >= 59


def test_peek_spends_nothing(limiter) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert limiter.peek("k", 5).allowed
    assert sum(limiter.hit("k", 5).allowed for _ in range(6)) == 5
    assert not limiter.peek("k", 5).allowed


def test_keys_are_independent(limiter) -> None:  # type: ignore[no-untyped-def]
    assert sum(limiter.hit("a", 3).allowed for _ in range(5)) == 3
    assert sum(limiter.hit("b", 3).allowed for _ in range(5)) == 3


def test_atomic_under_concurrency(limiter) -> None:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: limiter.hit("k", 100).allowed, range(400)))
    assert sum(results) == 100


def test_redis_down_fails_open() -> None:
    limiter = RedisRateLimiter(redis.Redis(port=1, socket_connect_timeout=0.2))
    assert all(limiter.hit("k", 1).allowed for _ in range(5))
    assert limiter.fail_open_total == 5
