"""Drain one workspace's pending events into its hash chain, a chunk per transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from application import tree
from application.ports.geo import GeoLocator
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.events import Event
from domain.hash_chain import link_with_leaves

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 500


@dataclass(frozen=True)
class ProcessingOutcome:
    linked: int
    drained: bool
    """False when the drain stopped at ``max_chunks`` with events possibly still pending."""


AfterCommit = Callable[[], None]


class ChunkHandler(Protocol):
    """A step that runs on each linked chunk inside its transaction (alerts, streams).

    Inside, not after the commit: what alerts and streams must deliver is recorded in the
    same transaction as the links, so a crash between the two can neither lose a chunk's
    deliveries nor record them for events it did not link. The delivery itself - webhooks
    that may be slow or fail - belongs after the commit, never here: a step that raises
    rolls the chunk back. What a step returns runs once the chunk is committed (to wake
    the jobs that deliver what it recorded).
    """

    def __call__(self, uow: UnitOfWork, events: Sequence[Event]) -> AfterCommit | None: ...


class ProcessPendingEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory, geo: GeoLocator,
                 chunk_handlers: Sequence[ChunkHandler] = (),
                 chunk_size: int = DEFAULT_CHUNK_SIZE, metrics: Metrics = NO_METRICS) -> None:
        self._metrics = metrics
        self._uow_factory = uow_factory
        self._geo = geo
        self._handlers = tuple(chunk_handlers)
        self._chunk_size = chunk_size

    def execute(self, workspace_id: str, max_chunks: int | None = None) -> ProcessingOutcome:
        """Process until nothing is pending, or for at most ``max_chunks`` chunks.

        A bounded drain lets one job yield to other workspaces and re-queue itself.

        Each chunk is one transaction holding the workspace's chain-head lock, so concurrent
        workers serialise per workspace (never globally), and a crash mid-chunk rolls back
        to a chain with no gap and no double link.
        """
        total = 0
        chunks = 0
        while max_chunks is None or chunks < max_chunks:
            linked = self._process_chunk(workspace_id)
            total += linked
            if linked < self._chunk_size:
                return ProcessingOutcome(total, drained=True)
            chunks += 1
        return ProcessingOutcome(total, drained=False)

    def _process_chunk(self, workspace_id: str) -> int:
        with self._uow_factory() as uow:
            head = uow.chains.lock(workspace_id)
            pending = uow.events.pending_chunk(workspace_id, self._chunk_size)
            if not pending:
                return 0
            located = [event.with_geo(self._locate(event)) for event in pending]
            linked, new_head, leaves = link_with_leaves(head, located)
            uow.events.mark_processed(linked)
            uow.chains.save(workspace_id, new_head)
            # The Merkle tree grows with the chain, in the same transaction: a leaf is in
            # the tree exactly when its event is linked.
            tree.append(uow, workspace_id, head.sequence, leaves)
            follow_ups = [handler(uow, linked) for handler in self._handlers]
            uow.commit()
        self._metrics.events_processed(len(linked))
        for follow_up in follow_ups:
            if follow_up is not None:
                follow_up()
        log.debug("linked %d events of %s up to sequence %d", len(linked), workspace_id,
                  new_head.sequence)
        return len(linked)

    def _locate(self, event: Event) -> dict[str, Any] | None:
        return self._geo.locate(event.ip_address) if event.ip_address else None
