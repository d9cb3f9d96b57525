"""One delivery: a batch of a stream's events (or a test), its attempts and its outcome.

A delivery is recorded before its first attempt and names its events by sequence range
and filter, never by copy: a retry rebuilds exactly the same body from the same immutable
events, under the same ``id`` and number, so receivers can drop duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from domain.events import Event
from domain.sending import ERROR_MAX_LENGTH
from domain.streams import MAX_BATCH, MAX_BATCH_BYTES

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
"""Only a test delivery ends failed: a stream's deliveries are retried until they succeed."""
SKIPPED = "skipped"
"""Events retention removed before the stream could deliver them: recorded, not hidden."""
STATUSES = (PENDING, DELIVERED, FAILED, SKIPPED)

EVENTS = "events"
TEST = "test"


@dataclass(frozen=True)
class Attempt:
    """What one try to send came to."""

    ok: bool
    http_status: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Delivery:
    id: str
    stream_id: str
    workspace_id: str
    kind: str
    created_at: datetime
    sequence: int | None = None
    """The delivery's number within its stream (None for tests and skipped ranges)."""
    status: str = PENDING
    event_count: int = 0
    first_sequence: int | None = None
    last_sequence: int | None = None
    actions: tuple[str, ...] | None = None
    """The stream's filter when the delivery was cut: a retry selects the same events."""
    attempts: int = 0
    http_status: int | None = None
    error: str | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    checkpoint: str | None = None
    """The log's latest signed checkpoint when the delivery was cut: webhook bodies carry
    it, so the log's signed state also lives with the receivers."""

    @property
    def span(self) -> tuple[int, int]:
        """The first and last sequences an events delivery covers (a test covers none)."""
        if self.first_sequence is None or self.last_sequence is None:
            raise ValueError(f"delivery {self.id} covers no events")
        return self.first_sequence, self.last_sequence

    def attempted(self, now: datetime, attempt: Attempt) -> Delivery:
        done = attempt.ok
        status = DELIVERED if done else (FAILED if self.kind == TEST else PENDING)
        return replace(self, attempts=self.attempts + 1, http_status=attempt.http_status,
                       error=None if done else (attempt.error or "failed")[:ERROR_MAX_LENGTH],
                       last_attempt_at=now, status=status,
                       delivered_at=now if done else None)


def events_delivery(delivery_id: str, stream_id: str, workspace_id: str, number: int,
                    events: Sequence[Event], actions: tuple[str, ...] | None,
                    now: datetime, checkpoint: str | None = None) -> Delivery:
    return Delivery(id=delivery_id, stream_id=stream_id, workspace_id=workspace_id,
                    kind=EVENTS, created_at=now, sequence=number, event_count=len(events),
                    first_sequence=events[0].linked.sequence,
                    last_sequence=events[-1].linked.sequence,
                    actions=actions, checkpoint=checkpoint)


def skipped_range(delivery_id: str, stream_id: str, workspace_id: str, first: int, last: int,
                  now: datetime) -> Delivery:
    return Delivery(id=delivery_id, stream_id=stream_id, workspace_id=workspace_id,
                    kind=EVENTS, created_at=now, status=SKIPPED, first_sequence=first,
                    last_sequence=last,
                    error=f"Events {first}-{last} were removed by the workspace's retention "
                          f"before this stream delivered them (it was paused or failing).")


def within_size(documents: Sequence[dict[str, Any]], limit: int = MAX_BATCH_BYTES) -> int:
    """How many of ``documents``, from the first, fit in ``limit`` bytes of JSON as
    deliveries carry them; always at least the first (one event is at most 32 KiB)."""
    size = 0
    for count, document in enumerate(documents):
        size += len(json.dumps(document, ensure_ascii=False,
                               separators=(",", ":")).encode("utf-8"))
        if size > limit and count:
            return count
    return len(documents)


def batch_ready_at(events: Sequence[Event], linger: timedelta) -> datetime | None:
    """When a batch should go: at once when full (None), else once its oldest event has
    waited ``linger`` since it arrived - a receiver gets one request for a second's events
    instead of one per event, and no event waits longer than that for its batch."""
    if len(events) >= MAX_BATCH or not events:
        return None
    return min(event.received_at for event in events) + linger
