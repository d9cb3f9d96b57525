"""A log stream's deliveries: batches of its events, cut from the chain in sequence order.

A delivery is recorded before its first attempt and names its events by sequence range
and filter; a retry rebuilds exactly the same body from the same immutable events.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from application.activity import ActivityLog
from application.delivery_engine import Claim, DeliveryEngine
from application.ports.delivery import CredentialVault, Deliverer, Parcel, Route
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
    within_size,
)
from domain.streams import MAX_BATCH, Stream

log = logging.getLogger(__name__)

SCAN_WINDOW = 10_000
"""Sequences one look at the chain covers at most: a stream whose filter matches little
passes over the rest in bounded steps, not in one unbounded read."""


class DeliverStream(DeliveryEngine[Stream, Delivery]):
    KIND = "log_stream"

    def __init__(self, uow_factory: UnitOfWorkFactory, deliverer: Deliverer,
                 vault: CredentialVault, queue: JobQueue, clock: Clock, ids: IdGenerator,
                 random: Randomness, linger: timedelta, lease: timedelta,
                 activity: ActivityLog, metrics: Metrics = NO_METRICS) -> None:
        super().__init__(uow_factory, deliverer, vault, queue, clock, random, lease, activity,
                         metrics)
        self._ids = ids
        self._linger = linger

    def _lock(self, uow: UnitOfWork, target_id: str) -> Stream | None:
        return uow.streams.lock(target_id)

    def _save(self, uow: UnitOfWork, target: Stream) -> None:
        uow.streams.update(target)

    def _destination(self, target: Stream) -> Route:
        return Route(target.type, target.url, target.options)

    def _sealed(self, target: Stream) -> bytes:
        return target.credential

    def _attempted(self, uow: UnitOfWork, attempts: list[tuple[Delivery, Attempt]],
                   now: datetime) -> None:
        for delivery, attempt in attempts:  # one: a claim is one batch
            uow.deliveries.update(delivery.attempted(now, attempt))

    def _next(self, uow: UnitOfWork, target: Stream, now: datetime
              ) -> tuple[Stream, list[Claim[Delivery]], datetime | None]:
        """One batch a claim: a stream has one delivery pending at a time, which the
        next one's cut waits for."""
        delivery = uow.deliveries.pending(target.id)
        if delivery is not None:  # a retry: the same events, rebuilt
            first, last = delivery.span
            events = uow.events.linked_batch(target.workspace_id, first - 1, last,
                                             action_patterns(delivery.actions or ()),
                                             MAX_BATCH)
            documents = [event.document() for event in events]
            return target, [self._claim_of(target, delivery, documents)], None
        target, delivery, documents, wake_at = self._next_batch(uow, target, now)
        if delivery is None:
            return target, [], wake_at
        return target, [self._claim_of(target, delivery, documents)], None

    def _claim_of(self, stream: Stream, delivery: Delivery,
                  documents: list[dict[str, Any]]) -> Claim[Delivery]:
        parcel = Parcel(stream.id, delivery.id, delivery.sequence or 0, documents,
                        checkpoint=delivery.checkpoint)
        return Claim(delivery, parcel, len(documents))

    def _next_batch(self, uow: UnitOfWork, stream: Stream, now: datetime
                    ) -> tuple[Stream, Delivery | None, list[dict[str, Any]], datetime | None]:
        """Cut the next batch from the chain after the stream's position: up to
        ``MAX_BATCH`` matching events within ``MAX_BATCH_BYTES``, sent once full (either
        way) or once the oldest has lingered."""
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
        found = uow.events.linked_batch(stream.workspace_id, stream.position, upper,
                                        stream.patterns, MAX_BATCH)
        if not found:
            return stream.handed_out(upper), None, [], None
        documents = [event.document() for event in found]
        events = found[:within_size(documents)]
        full = len(found) >= MAX_BATCH or len(events) < len(found)
        linger = self._linger if stream.batch_seconds is None else \
            timedelta(seconds=stream.batch_seconds)
        ready_at = None if full else batch_ready_at(events, linger)
        if ready_at is not None and ready_at > now:
            return stream, None, [], ready_at
        covered = events[-1].linked.sequence if full else upper
        stream, number = stream.handed_out(covered).numbered()
        latest = uow.checkpoints.latest(stream.workspace_id)
        delivery = events_delivery(self._ids.new("dlv"), stream.id, stream.workspace_id,
                                   number, events, stream.actions, now,
                                   latest.note if latest is not None else None)
        uow.deliveries.add(delivery)
        return stream, delivery, documents[:len(events)], None
