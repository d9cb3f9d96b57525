"""GCRA with an injected clock, and the in-memory store on top of it."""

from __future__ import annotations

import threading

import pytest

from adapters.inprocess.rate_limiter import InMemoryRateLimiter
from domain.rate_limit import decide, peek


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def spend(limiter: InMemoryRateLimiter, key: str, limit: int, times: int) -> int:
    return sum(limiter.hit(key, limit).allowed for _ in range(times))


def test_full_allowance_is_a_burst_of_the_limit() -> None:
    limiter = InMemoryRateLimiter(Clock())
    assert spend(limiter, "k", 60, 100) == 60


def test_refills_smoothly_one_interval_at_a_time() -> None:
    clock = Clock()
    limiter = InMemoryRateLimiter(clock)
    spend(limiter, "k", 60, 60)
    rejected = limiter.hit("k", 60)
    assert not rejected.allowed and rejected.retry_after == pytest.approx(1.0)
    assert rejected.retry_after_header == 1
    clock.now += 0.999
    assert not limiter.hit("k", 60).allowed
    clock.now += 0.001
    assert limiter.hit("k", 60).allowed
    assert not limiter.hit("k", 60).allowed


def test_no_double_burst_at_a_window_edge() -> None:
    """A fixed window would admit 2N across its boundary; GCRA admits N plus what refilled."""
    clock = Clock(59.9)
    limiter = InMemoryRateLimiter(clock)
    first = spend(limiter, "k", 60, 60)
    clock.now = 60.1
    second = spend(limiter, "k", 60, 60)
    assert (first, second) == (60, 0)


def test_rejections_do_not_push_the_reopening_back() -> None:
    clock = Clock()
    limiter = InMemoryRateLimiter(clock)
    spend(limiter, "k", 6, 6)  # one every 10 s
    for _ in range(50):
        limiter.hit("k", 6)
    clock.now += 10
    assert limiter.hit("k", 6).allowed


def test_remaining_and_reset() -> None:
    clock = Clock()
    limiter = InMemoryRateLimiter(clock)
    first = limiter.hit("k", 60)
    assert (first.remaining, first.reset_header) == (59, 1)
    spend(limiter, "k", 60, 9)
    tenth = limiter.peek("k", 60)
    assert tenth.remaining == 50 and tenth.reset_header == 10
    assert limiter.peek("k", 60).remaining == 50  # peeking spends nothing


def test_keys_are_independent() -> None:
    limiter = InMemoryRateLimiter(Clock())
    assert spend(limiter, "a", 60, 60) == 60
    assert spend(limiter, "b", 300, 300) == 300
    assert spend(limiter, "a", 60, 1) == 0


def test_thread_safe_under_contention() -> None:
    limiter = InMemoryRateLimiter(Clock())
    allowed = []

    def worker() -> None:
        allowed.append(spend(limiter, "k", 500, 100))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 500


def test_peek_matches_decide_without_moving() -> None:
    tat = 1_000_030.0
    assert peek(tat, 1_000_000.0, 60).tat == tat
    assert peek(tat, 1_000_000.0, 60).allowed == decide(tat, 1_000_000.0, 60).allowed
