"""GCRA in one Redis script: atomic across every server process and machine.

The script reads the key's theoretical arrival time with the server's clock (so machines
with skewed clocks still share one budget), applies the same rule as
``domain.rate_limit.decide`` and stores the new value only when the request fits. The
Python side turns the script's answer into a ``Decision`` with the domain's own code.

The same script reads the credentials version (``CredentialChanges``): a random token
that ``announce`` replaces whenever a key or workspace changes, and that the script
creates when it is missing (a restarted Redis therefore invalidates every cache too).
Given the version a caller's cache was built under, the script spends nothing when it is
no longer current.

If Redis cannot be reached the limiter fails open: requests are served, a warning is
logged (at most once a minute) and ``on_fail_open`` counts them (a metric).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from application.ports.rate_limits import VersionedDecision
from domain.rate_limit import Decision, decide, peek

log = logging.getLogger(__name__)

GCRA_SCRIPT = """
local version = redis.call('GET', KEYS[2])
if not version then
  version = ARGV[4]
  redis.call('SET', KEYS[2], version)
end
if ARGV[3] ~= '' and ARGV[3] ~= version then
  return {-1, false, false, version}
end
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
return {allowed, stored or false, string.format('%.6f', now), version}
"""


class RedisRateLimiter:
    """``redis`` should answer fast or fail fast (short timeouts, at most one retry): a
    request waits for it. After a failure the limiter stops asking for ``cooldown``
    seconds, so an outage costs one timeout per process and cooldown, not one per request.
    """

    def __init__(self, redis: Redis, prefix: str = "auditrail:ratelimit:",
                 cooldown: float = 1.0,
                 on_fail_open: Callable[[], None] = lambda: None) -> None:
        self._redis = redis
        self._script = redis.register_script(GCRA_SCRIPT)
        self._prefix = prefix
        self._version_key = prefix + "credentials-version"
        self._cooldown = cooldown
        self._retry_at = 0.0
        self._on_fail_open = on_fail_open
        self._last_warning = 0.0
        self._lock = threading.Lock()
        self._own = threading.local()

    def hit(self, key: str, limit: int) -> Decision:
        return _decided(self._call(key, limit, spend=True))

    def peek(self, key: str, limit: int) -> Decision:
        return _decided(self._call(key, limit, spend=False))

    def hit_if_current(self, key: str, limit: int, version: str | None) -> VersionedDecision:
        return self._call(key, limit, spend=True, version=version)

    def prepare(self) -> None:
        """Connect and load the script now, so the first request costs one round trip."""
        try:
            self._redis.script_load(GCRA_SCRIPT)
        except RedisError as exc:
            log.warning("rate limiter not reachable at start (%s)", type(exc).__name__)

    def announce(self) -> None:
        """After the change is committed; if Redis is unreachable now, caches notice when
        they fail to reach it too, or at the latest when their entries age out."""
        try:
            self._redis.set(self._version_key, _new_version())
        except RedisError as exc:
            log.warning("could not announce a credentials change (%s); cached credentials "
                        "expire on their own", type(exc).__name__)

    def _call(self, key: str, limit: int, *, spend: bool,
              version: str | None = None) -> VersionedDecision:
        if time.monotonic() < self._retry_at:
            return VersionedDecision(self._fail_open(limit, None), None)
        try:
            allowed, stored, now, current = self._script(
                keys=[self._prefix + key, self._version_key],
                args=[limit, 1 if spend else 0, version or "", _new_version()],
                client=self._thread_client())
        except RedisError as exc:
            self._retry_at = time.monotonic() + self._cooldown
            return VersionedDecision(self._fail_open(limit, exc), None)
        current = current.decode() if isinstance(current, bytes) else current
        if allowed == -1:
            return VersionedDecision(None, current)
        tat = float(stored) if stored else None
        decision = (decide if spend else peek)(tat, float(now), limit)
        if decision.allowed != bool(allowed):  # float edge: the script's verdict is the law
            decision = Decision(bool(allowed), limit, decision.remaining,
                                decision.retry_after, decision.reset_after, decision.tat)
        return VersionedDecision(decision, current)

    def _thread_client(self) -> Redis:
        """This thread's client, holding one connection of the shared pool for good.

        Every request makes one call: through the pool, each would check a connection out,
        poll it for stray data and check it back in, which costs the server more CPU than
        the script. A forked child builds its own rather than share its parent's socket.
        """
        held = getattr(self._own, "client", None)
        if held is None or held[0] != os.getpid():
            client = Redis(connection_pool=self._redis.connection_pool,
                           single_connection_client=True)  # connects: inside the caller's try
            held = self._own.client = (os.getpid(), client)
        return held[1]

    def _fail_open(self, limit: int, exc: RedisError | None) -> Decision:
        self._on_fail_open()
        with self._lock:
            now = time.monotonic()
            warn = exc is not None and now - self._last_warning >= 60
            if warn:
                self._last_warning = now
        if warn:
            log.warning("rate limiter unreachable (%s): serving requests without limits",
                        type(exc).__name__)
        return Decision(True, limit, limit, 0.0, 0.0, 0.0)


def _new_version() -> str:
    return secrets.token_hex(8)


def _decided(outcome: VersionedDecision) -> Decision:
    if outcome.decision is None:
        raise RuntimeError("no version was asked for, yet the script refused one")
    return outcome.decision
