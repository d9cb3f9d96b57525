"""Sending to one destination - a log stream's receiver, an alert rule's webhook: retries
with backoff, ``failing`` after a run of failures, recovery, and the lease that keeps one
attempt in flight. Every decision is taken from an injected clock and jitter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from domain.timestamps import CLOCK_SKEW

FAILING_AFTER = 5
"""Consecutive failed attempts after which a destination is ``failing`` (about 15 s of
failures with the backoff below)."""
BACKOFF_BASE = timedelta(seconds=1)
BACKOFF_CAP = timedelta(minutes=10)
BELIEVED_AHEAD = BACKOFF_CAP + CLOCK_SKEW
"""The furthest ahead a retry or a lease can lie: the longest backoff (leases are shorter),
and the clocks' skew. A time further ahead was not set by sending; believed, one UPDATE
would pause a destination for as long - a witness among them, whose falling behind no
lag alarm watches."""
ERROR_MAX_LENGTH = 500
ACTIVE = "active"
FAILING = "failing"


def status_of(failing: bool) -> str:
    """How a destination shows: ``failing`` after ``FAILING_AFTER`` failed attempts in a
    row (until one succeeds), else ``active``."""
    return FAILING if failing else ACTIVE


def backoff(failures: int, jitter: float) -> timedelta:
    """The wait after ``failures`` consecutive failures: doubling from one second up to
    ten minutes, with "equal jitter" - half of each step fixed, half random (``jitter``
    in [0, 1)) - so that destinations failing together (one receiver down) spread their
    retries out, and none retries sooner than half its step."""
    step = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(max(failures, 1) - 1, 20))
    return step / 2 + step / 2 * min(max(jitter, 0.0), 1.0)


@dataclass(frozen=True)
class Sending:
    failures: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    last_delivered_at: datetime | None = None
    failing_since: datetime | None = None
    leased_until: datetime | None = None
    """While set and in the future, one worker is sending to this destination."""

    @property
    def failing(self) -> bool:
        return self.failing_since is not None

    @property
    def status(self) -> str:
        return status_of(self.failing)

    @property
    def retry_at(self) -> datetime:
        """When a destination waiting out its backoff (not ``is_due``, or just ``failed``)
        is tried again."""
        if self.next_attempt_at is None:
            raise ValueError("not waiting out a backoff")
        return self.next_attempt_at

    @property
    def lease_ends(self) -> datetime:
        """When the lease of a destination being sent to (``leased``) runs out."""
        if self.leased_until is None:
            raise ValueError("not leased")
        return self.leased_until

    def is_due(self, now: datetime) -> bool:
        """Not waiting out a backoff (one further off than ``BELIEVED_AHEAD`` is none)."""
        return self.next_attempt_at is None or not (
            now < self.next_attempt_at <= now + BELIEVED_AHEAD)

    def is_leased(self, now: datetime) -> bool:
        """Being sent to (a lease further off than ``BELIEVED_AHEAD`` is none)."""
        return self.leased_until is not None and now < self.leased_until <= now + BELIEVED_AHEAD

    def leased(self, now: datetime, duration: timedelta) -> Sending:
        return replace(self, leased_until=now + duration)

    def succeeded(self, now: datetime) -> Sending:
        """A 2xx: whatever went before, the destination works again."""
        return Sending(last_delivered_at=now)

    def failed(self, now: datetime, error: str, jitter: float) -> Sending:
        """Retry after the backoff; after ``FAILING_AFTER`` failures in a row, failing."""
        failures = self.failures + 1
        failing_since = self.failing_since
        if failing_since is None and failures >= FAILING_AFTER:
            failing_since = now
        return replace(self, failures=failures, failing_since=failing_since,
                       next_attempt_at=now + backoff(failures, jitter),
                       last_error=error[:ERROR_MAX_LENGTH], leased_until=None)

    def retry_now(self) -> Sending:
        """Someone fixed the destination: try at once. The failure count is kept, so an
        attempt that fails again makes it failing again straight away."""
        return replace(self, next_attempt_at=None, failing_since=None)
