"""A bound on how many requests of one long-running kind a server process serves at once.

``GET /events/verify`` reads a whole chain while the request waits: minutes for millions
of events, a request thread and two database connections all along. Unbounded, a few
auditors verifying large workspaces at once would take every thread of a process, and
the ingest requests queued behind them would wait too. Past the bound a request is
answered ``503`` with ``Retry-After`` at once rather than queued: the thread is free
again, and the caller knows when to come back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from entrypoints.http.errors import ApiError

RETRY_AFTER_SECONDS = 10


class AtOnce:
    def __init__(self, limit: int, what: str, advice: str) -> None:
        """``limit``: how many at once (0: no bound); ``what`` names them in the answer,
        ``advice`` says what else the caller can do."""
        self._limit = limit
        self._slots = threading.BoundedSemaphore(limit) if limit else None
        self._what = what
        self._advice = advice

    @contextmanager
    def slot(self) -> Iterator[None]:
        if self._slots is None:
            yield
            return
        if not self._slots.acquire(blocking=False):
            raise ApiError(503, "unavailable",
                           f"This server process is running {self._limit} {self._what} "
                           f"already; retry in {RETRY_AFTER_SECONDS} s. {self._advice}",
                           headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        try:
            yield
        finally:
            self._slots.release()
