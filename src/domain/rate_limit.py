"""The generic cell rate algorithm (GCRA): smooth limits with a bounded burst.

A limit of N requests a minute lets one request through every 60/N seconds on average
and allows a burst of up to N when the allowance is full; unlike a fixed window it never
admits 2N around a window edge. The whole state of a key is one number, its *theoretical
arrival time* (TAT): when the allowance would be empty at the sustained rate. Stores keep
that number; this module decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WINDOW_SECONDS = 60.0
_EPSILON = 1e-6
"""Float slack: TATs are sums of intervals, and a microsecond must not cost a request."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    """Seconds until a request would be allowed (0 when allowed)."""
    reset_after: float
    """Seconds until the allowance is full again."""
    tat: float
    """The key's new theoretical arrival time, for the store to keep."""

    @property
    def retry_after_header(self) -> int:
        """Whole seconds, at least 1, never less than the real wait."""
        return max(1, math.ceil(self.retry_after))

    @property
    def reset_header(self) -> int:
        return math.ceil(self.reset_after)


def decide(tat: float | None, now: float, limit: int, cost: int = 1) -> Decision:
    """Whether a request of ``cost`` at ``now`` fits, given the key's stored ``tat``.

    A rejected request leaves the state unchanged (``tat`` is returned as it was), so a
    client hammering a closed door does not push its own reopening further away.
    """
    interval = WINDOW_SECONDS / limit
    burst = WINDOW_SECONDS  # the time it takes to earn a full allowance of `limit`
    current = max(tat if tat is not None else now, now)
    new_tat = current + interval * cost
    allow_at = new_tat - burst
    if now + _EPSILON < allow_at:
        return Decision(False, limit, _remaining(now, current, limit), allow_at - now,
                        current - now, current)
    return Decision(True, limit, _remaining(now, new_tat, limit), 0.0, new_tat - now, new_tat)


def _remaining(now: float, tat: float, limit: int) -> int:
    """Requests that would still fit right now with the key at ``tat``."""
    interval = WINDOW_SECONDS / limit
    return max(0, math.floor((now + WINDOW_SECONDS - tat) / interval + _EPSILON))


def peek(tat: float | None, now: float, limit: int) -> Decision:
    """What ``decide`` would answer, without spending anything."""
    decision = decide(tat, now, limit)
    unchanged = max(tat if tat is not None else now, now)
    return Decision(decision.allowed, limit, _remaining(now, unchanged, limit),
                    decision.retry_after, unchanged - now, unchanged)
