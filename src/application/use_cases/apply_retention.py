"""Upkeep: remove events older than each workspace's retention, keeping the rest verifiable.

Only a prefix of the chain is ever removed - events in sequence order up to the first one
still inside the retention window - so what remains is one unbroken chain that starts at
a recorded *anchor* (the sequence and hash of the last removed event). Pending events have
no sequence and are never touched. Work is done in bounded chunks, one transaction each.

Each anchor is signed by the transparency log's key, with the tree's root at its size
(``domain.signed_notes.anchor_text``): verification refuses an anchor it did not sign.

Only events a signed checkpoint covers are removed: the anchor then never lies past the
latest checkpoint, so whoever checks it can always have it proved consistent with the
checkpoints they hold (an old event linked moments ago waits for the next checkpoint,
within seconds, and the next run).

A log stream's delivery in flight holds its events (at most one batch per stream), and so
does an alert whose notification is not yet accepted; what a paused or failing stream has
not yet cut into a delivery is removed on time, and the stream records the skipped range
in its delivery log.

An alert goes with the last of its events: it names them and who they grouped by (an
actor, an address), so a workspace's retention would otherwise bound what it keeps of its
events but not what it keeps about them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from application import tree
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.transparency import TransparencyLog
from domain.hash_chain import ChainHead
from domain.signed_notes import anchor_text

log = logging.getLogger(__name__)

CHUNK = 5_000
STREAM, ALERT, CHECKPOINT = "stream", "alert", "checkpoint"


class ApplyRetention:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, log: TransparencyLog,
                 chunk: int = CHUNK, max_chunks: int = 20) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._log = log
        self._chunk = chunk
        self._max_chunks = max_chunks

    def execute(self) -> int:
        """Remove what is due in every workspace (bounded per run); return how many."""
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            # Two queries whatever the number of workspaces: the usual answer is "nothing
            # due". Periods, not workspaces: building 20,000 of them every 15 s cost
            # each worker 158 ms a run.
            periods = uow.workspaces.retention_periods()
            oldest = uow.events.oldest_retained()
        removed = 0
        for workspace_id, first in sorted(oldest.items()):
            if workspace_id not in periods:
                continue  # kept forever
            cutoff = now - timedelta(days=periods[workspace_id])
            if first < cutoff:
                removed += self._trim(workspace_id, cutoff)
        return removed

    def _trim(self, workspace_id: str, cutoff: datetime) -> int:
        removed = 0
        for _ in range(self._max_chunks):
            with self._uow_factory() as uow:
                uow.chains.lock(workspace_id)  # not while a worker is linking this chain
                anchor = uow.chains.anchor(workspace_id)
                oldest = uow.events.oldest_links(workspace_id, anchor.sequence, self._chunk)
                held = min(holds(uow, workspace_id).values(), default=None)
                expired = []
                for occurred_at, link in oldest:
                    if occurred_at >= cutoff or (held is not None and link.sequence >= held):
                        break
                    expired.append(link)
                if not expired:
                    return removed
                anchor = expired[-1]
                uow.events.delete_linked(workspace_id, anchor.sequence)
                alerts = uow.alerts.delete_through(workspace_id, anchor.sequence)
                uow.chains.save_anchor(workspace_id, anchor,
                                       self._signed_anchor(uow, workspace_id, anchor))
                uow.commit()
            removed += len(expired)
            log.info("retention removed %d events of %s up to sequence %d, and %d alerts",
                     len(expired), workspace_id, anchor.sequence, alerts)
            if len(expired) < len(oldest) or len(oldest) < self._chunk:
                return removed
        return removed

    def _signed_anchor(self, uow: UnitOfWork, workspace_id: str, anchor: ChainHead) -> str:
        """The anchor, signed by the log's key with the tree's root at its size: someone
        who moves it (removing events before their time) cannot sign the new one."""
        root = tree.root(uow, workspace_id, anchor.sequence)
        return self._log.sign_text(workspace_id, anchor_text(
            self._log.origin(workspace_id), anchor.sequence, anchor.hash, root))


HOLDS = {STREAM: "a log stream's delivery in flight to be accepted",
         ALERT: "an alert's notification to be accepted",
         CHECKPOINT: "a signed checkpoint to cover it"}
"""What retention waits for, as ``auditrail status`` says it."""


def holds(uow: UnitOfWork, workspace_id: str) -> dict[str, int]:
    """What keeps the workspace's events from retention, each with the first sequence it
    keeps: a delivery or notification in flight is retried with the very events it was
    first sent with, and what no checkpoint covers yet waits for one."""
    latest = uow.checkpoints.latest(workspace_id)
    found = {STREAM: uow.deliveries.held_from(workspace_id),
             ALERT: uow.alerts.held_from(workspace_id),
             CHECKPOINT: (latest.tree_size if latest is not None else 0) + 1}
    return {hold: sequence for hold, sequence in found.items() if sequence is not None}
