"""GCRA in one Redis script: atomic across every server process and machine.

The script reads the key's theoretical arrival time with the server's clock (so machines
with skewed clocks still share one budget), applies the same rule as
``domain.rate_limit.decide`` and stores the new value only when the request fits. The
Python side turns the script's answer into a ``Decision`` with the domain's own code.
If Redis cannot be reached the limiter fails open: requests are served, a warning is
logged (at most once a minute) and ``fail_open_total`` counts them.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

from domain.rate_limit import Decision, decide, peek

log = logging.getLogger(__name__)

_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local limit = tonumber(ARGV[1])
local spend = tonumber(ARGV[2])
local interval = 60 / limit
local stored = redis.call('GET', KEYS[1])
local tat = now
if stored then tat = math.max(tonumber(stored), now) end
local new_tat = tat + interval
local allowed = 0
if now + 0.000001 >= new_tat - 60 then allowed = 1 end
if allowed == 1 and spend == 1 then
  redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX',
             math.ceil((new_tat - now) * 1000) + 1000)
end
return {allowed, stored or false, string.format('%.6f', now)}
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "auditrail:ratelimit:") -> None:
        self._redis = redis
        self._script = redis.register_script(_GCRA)
        self._prefix = prefix
        self.fail_open_total = 0
        self._last_warning = 0.0
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int) -> Decision:
        return self._call(key, limit, spend=True)

    def peek(self, key: str, limit: int) -> Decision:
        return self._call(key, limit, spend=False)

    def _call(self, key: str, limit: int, *, spend: bool) -> Decision:
        try:
            allowed, stored, now = self._script(keys=[self._prefix + key],
                                                args=[limit, 1 if spend else 0])
        except RedisError as exc:
            return self._fail_open(limit, exc)
        tat = float(stored) if stored else None
        decision = (decide if spend else peek)(tat, float(now), limit)
        if decision.allowed != bool(allowed):  # float edge: the script's verdict is the law
            decision = Decision(bool(allowed), limit, decision.remaining,
                                decision.retry_after, decision.reset_after, decision.tat)
        return decision

    def _fail_open(self, limit: int, exc: RedisError) -> Decision:
        with self._lock:
            self.fail_open_total += 1
            now = time.monotonic()
            warn = now - self._last_warning >= 60
            if warn:
                self._last_warning = now
        if warn:
            log.warning("rate limiter unreachable (%s): serving requests without limits",
                        type(exc).__name__)
        return Decision(True, limit, limit, 0.0, 0.0, 0.0)
