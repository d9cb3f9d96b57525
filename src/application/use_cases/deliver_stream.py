"""The delivery engine: send one stream's events, a batch at a time, in sequence order.

One delivery is in flight per stream: a job leases the stream (under its row lock) before
sending and releases it when it records the outcome, so a second job for the same stream -
woken by more events, or by upkeep - finds the lease and leaves; the holder looks for more
work after each delivery, so nothing woken meanwhile is left behind. A worker killed while
sending leaves a lease that runs out: upkeep then wakes the stream, and the same delivery
(same id, number and events) is sent again.

Nothing is sent inside a transaction: the first records the delivery and the lease and
commits, the HTTP request follows, and a second transaction records what came of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from application.ports.delivery import (
    UNREADABLE_CREDENTIAL,
    CredentialUnreadable,
    CredentialVault,
    Deliverer,
    Destination,
    Parcel,
    SendResult,
)
from application.ports.jobs import JobQueue
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.system import Clock, IdGenerator, Randomness
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.action_patterns import action_patterns
from domain.deliveries import (
    Attempt,
    Delivery,
    batch_ready_at,
    events_delivery,
    skipped_range,
)
from domain.events import Event
from domain.streams import MAX_BATCH, PAUSED, Stream

log = logging.getLogger(__name__)

SCAN_WINDOW = 10_000
"""Sequences one look at the chain covers at most: a stream whose filter matches little
passes over the rest in bounded steps, not in one unbounded read."""
MAX_ROUNDS = 20
"""Deliveries one job sends before it re-queues itself, so streams share the workers."""


@dataclass(frozen=True)
class _Claim:
    stream: Stream
    delivery: Delivery
    events: list[Event]


class DeliverStream:
    def __init__(self, uow_factory: UnitOfWorkFactory, deliverer: Deliverer,
                 vault: CredentialVault, queue: JobQueue, clock: Clock, ids: IdGenerator,
                 random: Randomness, linger: timedelta, lease: timedelta,
                 metrics: Metrics = NO_METRICS) -> None:
        self._uow_factory = uow_factory
        self._deliverer = deliverer
        self._vault = vault
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._random = random
        self._linger = linger
        self._lease = lease
        self._metrics = metrics

    def execute(self, stream_id: str) -> int:
        """Send what is due; return how many deliveries succeeded."""
        self._queue.claim_delivery(stream_id)
        delivered = 0
        for _ in range(MAX_ROUNDS):
            claim = self._claim(stream_id)
            if claim is None:
                return delivered
            result = self._send(claim)
            if not self._record(claim, result):
                return delivered
            delivered += 1
        self._queue.enqueue_deliveries([stream_id])  # more may wait; others get a turn first
        return delivered

    def _claim(self, stream_id: str) -> _Claim | None:
        """The delivery to send now, leased; None when there is none (or not yet)."""
        wake_at: datetime | None = None
        claim = None
        with self._uow_factory() as uow:
            stream = found = uow.streams.lock(stream_id)
            now = self._clock.now()
            if stream is None or stream.status == PAUSED or stream.is_leased(now):
                return None  # gone, paused, or another job is sending (and will look again)
            if not stream.is_due(now):
                wake_at = stream.next_attempt_at
            else:
                delivery = uow.deliveries.pending(stream_id)
                if delivery is not None:  # a retry: the same events, rebuilt
                    events = uow.events.linked_batch(
                        stream.workspace_id, delivery.first_sequence - 1,  # type: ignore[operator]
                        delivery.last_sequence, action_patterns(delivery.actions or ()),  # type: ignore[arg-type]
                        MAX_BATCH)
                else:
                    stream, delivery, events, wake_at = self._next_batch(uow, stream, now)
                if delivery is not None:
                    stream = stream.leased(now, self._lease)
                    claim = _Claim(stream, delivery, events)
            if stream != found:
                uow.streams.update(stream)
            uow.commit()
        if wake_at is not None:
            self._queue.schedule_delivery(stream_id, wake_at)
        return claim

    def _next_batch(self, uow: UnitOfWork, stream: Stream, now: datetime
                    ) -> tuple[Stream, Delivery | None, list[Event], datetime | None]:
        """Cut the next batch from the chain after the stream's position: up to
        ``MAX_BATCH`` matching events, sent once full or once the oldest has lingered."""
        chain = uow.chains.retained(stream.workspace_id)
        if stream.position < chain.anchor.sequence:
            uow.deliveries.add(skipped_range(self._ids.new("dlv"), stream.id,
                                             stream.workspace_id, stream.position + 1,
                                             chain.anchor.sequence, now))
            log.warning("retention removed events before stream %s delivered them",
                        stream.id, extra={"workspace_id": stream.workspace_id})
            stream = stream.handed_out(chain.anchor.sequence)
        upper = min(stream.position + SCAN_WINDOW, chain.head.sequence)
        if upper <= stream.position:
            return stream, None, [], None
        events = uow.events.linked_batch(stream.workspace_id, stream.position, upper,
                                         stream.patterns, MAX_BATCH)
        if not events:
            return stream.handed_out(upper), None, [], None
        ready_at = batch_ready_at(events, self._linger)
        if ready_at is not None and ready_at > now:
            return stream, None, [], ready_at
        covered = events[-1].sequence if len(events) >= MAX_BATCH else upper
        stream, number = stream.handed_out(covered).numbered()  # type: ignore[arg-type]
        delivery = events_delivery(self._ids.new("dlv"), stream.id, stream.workspace_id,
                                   number, events, stream.actions, now)
        uow.deliveries.add(delivery)
        return stream, delivery, events, None

    def _send(self, claim: _Claim) -> SendResult:
        delivery = claim.delivery
        return send(claim.stream, Parcel(claim.stream.id, delivery.id, delivery.sequence or 0,
                                         [event.document() for event in claim.events]),
                    self._vault, self._deliverer)

    def _record(self, claim: _Claim, result: SendResult) -> bool:
        """Store the attempt; True when it succeeded and the stream may go on."""
        attempt = result.attempt
        with self._uow_factory() as uow:
            stream = uow.streams.lock(claim.stream.id)
            now = self._clock.now()
            uow.deliveries.update(claim.delivery.attempted(now, attempt))
            if stream is not None:
                stream = (stream.succeeded(now) if attempt.ok
                          else stream.failed(now, attempt.error or "failed", self._random()))
                uow.streams.update(stream)
            uow.commit()
        self._metrics.delivery_attempted(claim.stream.type, result.outcome,
                                         claim.delivery.event_count if attempt.ok else 0)
        if stream is None:
            return False  # deleted while sending
        if not attempt.ok:
            log.warning("delivery failed; retrying in %.0fs", (
                stream.next_attempt_at - now).total_seconds(),  # type: ignore[operator]
                extra={"stream_id": stream.id, "delivery_id": claim.delivery.id,
                       "attempts": claim.delivery.attempts + 1, "outcome": result.outcome,
                       "status": stream.status})
            self._queue.schedule_delivery(stream.id, stream.next_attempt_at)  # type: ignore[arg-type]
            return False
        return True


def send(stream: Stream, parcel: Parcel, vault: CredentialVault,
         deliverer: Deliverer) -> SendResult:
    """One attempt to deliver ``parcel`` to the stream's destination; the credential is
    unsealed for it alone. A credential the key cannot open is a failed attempt that says
    what to do, not an error: the stream is failing until someone sets it again."""
    try:
        credential = vault.open(stream.credential)
    except CredentialUnreadable:
        return SendResult(Attempt(False, error="The stream's credential cannot be read with "
                                               "the current AUDITRAIL_SECRET_KEY; set it "
                                               "again (PATCH config)."),
                          UNREADABLE_CREDENTIAL)
    return deliverer.send(Destination(stream.type, stream.url, credential), parcel)
