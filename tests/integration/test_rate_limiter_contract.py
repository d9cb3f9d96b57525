"""The same contract for both rate-limit stores: in-memory and the Redis script."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from adapters.inprocess.rate_limiter import InMemoryRateLimiter
from adapters.redis_store.rate_limiter import RedisRateLimiter


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A fresh key prefix; its keys (the credentials version never expires) go afterwards."""
    name = f"test:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{name}*"):
        client.delete(key)


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "memory":
        return InMemoryRateLimiter()
    client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
    return RedisRateLimiter(client, prefix=request.getfixturevalue("prefix"))


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
    failed_open: list[None] = []
    limiter = RedisRateLimiter(_unreachable(), on_fail_open=lambda: failed_open.append(None))
    assert all(limiter.hit("k", 1).allowed for _ in range(5))
    assert len(failed_open) == 5


def _unreachable() -> redis.Redis:
    """Nothing listens there; configured as the container's limiter client (one retry, no
    backoff), so that each attempt fails at once rather than after seconds of backoff."""
    return redis.Redis(port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 1))


def test_in_memory_store_shares_no_credentials_version() -> None:
    """Its process cannot hear of changes the CLI makes elsewhere: nothing may be cached."""
    limiter = InMemoryRateLimiter()
    outcome = limiter.hit_if_current("k", 5, None)
    assert outcome.version is None and outcome.decision and outcome.decision.remaining == 4


@pytest.fixture
def redis_limiter(redis_url: str, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis.Redis.from_url(redis_url), prefix=prefix)


def test_redis_reports_the_version_and_refuses_a_stale_one_for_free(
        redis_limiter: RedisRateLimiter) -> None:
    first = redis_limiter.hit_if_current("k", 10, None)
    assert first.version and first.decision and first.decision.remaining == 9
    assert redis_limiter.hit_if_current("k", 10, first.version).version == first.version
    redis_limiter.announce()
    stale = redis_limiter.hit_if_current("k", 10, first.version)
    assert stale.decision is None and stale.version not in (None, first.version)
    assert redis_limiter.hit_if_current("k", 10, stale.version).decision.remaining == 7


def test_a_lost_version_comes_back_as_a_new_one(redis_url: str, prefix: str) -> None:
    """A restarted Redis forgets the version; every cache must then count as stale."""
    client = redis.Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, prefix=prefix)
    before = limiter.hit_if_current("k", 10, None).version
    client.delete(prefix + "credentials-version")
    after = limiter.hit_if_current("k", 10, before)
    assert after.decision is None and after.version not in (None, before)


def test_redis_down_reports_no_version() -> None:
    limiter = RedisRateLimiter(_unreachable())
    outcome = limiter.hit_if_current("k", 1, "v1")
    assert outcome.version is None and outcome.decision and outcome.decision.allowed
    limiter.announce()  # logs a warning, raises nothing


def _named_connections(redis_url: str, name: str) -> int:
    clients = redis.Redis.from_url(redis_url).client_list()
    return sum(client["name"] == name for client in clients)


def test_each_thread_keeps_its_own_connection(redis_url: str, prefix: str) -> None:
    """A request's one call skips the pool: the thread's connection stays checked out."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url, client_name=name),
                               prefix=prefix)
    with ThreadPoolExecutor(max_workers=1) as first, ThreadPoolExecutor(max_workers=1) as second:
        for _ in range(3):  # one after the other: a pool would hand out one connection
            first.submit(limiter.hit, "k", 100).result()
            second.submit(limiter.hit, "k", 100).result()
        assert _named_connections(redis_url, name) == 2
        assert limiter.hit("k", 100).remaining == 100 - 7


def test_a_dropped_connection_is_replaced_not_failed_open(redis_url: str, prefix: str) -> None:
    """As after a Redis restart: the next call reconnects (one retry) and still counts."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    failed_open: list[None] = []
    limiter = RedisRateLimiter(
        redis.Redis.from_url(redis_url, client_name=name, retry=Retry(NoBackoff(), 1)),
        prefix=prefix, on_fail_open=lambda: failed_open.append(None))
    assert limiter.hit("k", 10).remaining == 9
    _kill_named(redis_url, name)
    assert limiter.hit("k", 10).remaining == 8
    assert not failed_open


def _kill_named(redis_url: str, name: str) -> None:
    admin = redis.Redis.from_url(redis_url)
    for client in admin.client_list():
        if client["name"] == name:
            admin.client_kill_filter(_id=client["id"])


def test_a_forked_child_does_not_share_its_parents_connection(redis_url: str, prefix: str) -> None:
    """As under ``gunicorn --preload``: two processes on one socket would read each
    other's answers."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    limiter = RedisRateLimiter(redis.Redis.from_url(redis_url, client_name=name),
                               prefix=prefix)
    assert limiter.hit("k", 10).remaining == 9
    child = os.fork()
    if child == 0:  # the child reports through its exit status only
        counted = limiter.hit("k", 10).remaining == 8
        own = _named_connections(redis_url, name) == 2
        os._exit(0 if counted and own else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert limiter.hit("k", 10).remaining == 7
