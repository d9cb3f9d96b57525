"""Benchmark only: strip behaviour from an ``auditrail serve`` process, to measure its cost.

``bench/what_if.py`` puts this folder on ``PYTHONPATH`` of the servers it starts, so Python
imports this module at start-up in each of them (and in nothing else). The comma-separated
``AUDITRAIL_BENCH_WHAT_IF`` names what to strip:
  * ``no_rate_limit``: every request allowed without asking Redis (no shared limit, and no
    revocation check: the credentials version is taken as current);
  * ``no_terms``: no search terms written at ingest (term filters would miss the events).
Never set it anywhere else: the stripped server is not a correct Auditrail.
"""

from __future__ import annotations

import os

_STRIP = set(filter(None, os.environ.get("AUDITRAIL_BENCH_WHAT_IF", "").split(",")))

if "no_rate_limit" in _STRIP:
    from adapters.redis_store.rate_limiter import RedisRateLimiter
    from application.ports.rate_limits import VersionedDecision
    from domain.rate_limit import Decision

    def _allow(self, key, limit, version):  # type: ignore[no-untyped-def]
        return VersionedDecision(Decision(True, limit, limit, 0.0, 0.0, 0.0), version or "v0")

    RedisRateLimiter.hit_if_current = _allow  # type: ignore[method-assign]

if "no_terms" in _STRIP:
    import adapters.sql.bulk

    adapters.sql.bulk.search_terms = lambda event: ()  # type: ignore[assignment]
