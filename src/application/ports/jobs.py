"""The job queue port. Jobs carry ids only and are enqueued after the commit that needs them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol


class JobQueue(Protocol):
    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        """Ask for the pending events of these workspaces to be processed.

        De-duplicated: a burst of ingests for one workspace yields a few jobs, not one each.
        ``force`` skips the de-duplication, for upkeep re-queueing work whose job was lost.
        Must not raise when the queue is down: the events are durable and upkeep re-queues.
        """
        ...

    def request_processing(self, workspace_ids: Iterable[str]) -> None:
        """``enqueue_processing`` for the request path: the queue may send it a few
        milliseconds later, together with other requests', instead of making each request
        wait for a round trip. A wake-up lost with its process (killed before sending) only
        waits for upkeep, since the events were committed first."""
        ...

    def enqueue_export(self, export_id: str) -> None:
        """Ask for an export to be written. Like processing, it must not raise when the
        queue is down: the export stays queued and upkeep re-queues it."""
        ...

    def enqueue_chain_checks(self, workspace_ids: Iterable[str]) -> None:
        """Ask for these workspaces' chains to be checked, with the long jobs (exports):
        a check reads a whole chain. The caller has claimed them, so no de-duplication is
        needed; like the others it must not raise, as a claim that lapses is taken again."""
        ...

    def enqueue_deliveries(self, stream_ids: Iterable[str], *, force: bool = False) -> None:
        """Ask for these streams' deliveries to be sent, de-duplicated like processing: a
        stream with a job queued or scheduled gets no second one (unless ``force``). Must
        not raise when the queue is down: upkeep wakes streams with work."""
        ...

    def schedule_delivery(self, stream_id: str, at: datetime) -> None:
        """A job for the stream at ``at`` (a retry's backoff, or a batch's wait), unless
        one is already queued or scheduled."""
        ...

    def claim_delivery(self, stream_id: str) -> None:
        """Called by a delivery job before it looks for work, so that work committed from
        then on wakes a new job."""
        ...

    def claim(self, workspace_id: str) -> None:
        """Called by a processing job before it reads pending events, so that any event
        committed from then on wakes a new job instead of being left for upkeep."""
        ...

    def depth(self) -> int:
        """Jobs waiting to start (for the metrics)."""
        ...

    def ping(self) -> bool:
        """Whether the queue's backing store is reachable (for ``/readyz``)."""
        ...

    def workers(self) -> int | None:
        """Worker processes listening on the queues, for the operator; None when this
        process cannot tell (the embedded queue's worker is a thread of ``serve``, and an
        unreachable Redis is not zero workers)."""
        ...

    def eviction(self) -> str | None:
        """The policy by which the queue's store drops keys once full (a Redis
        ``maxmemory-policy`` other than ``noeviction`` under a ``maxmemory``), or None when
        it drops none or cannot tell: dropped jobs are found again only by upkeep, so the
        operator is told at start (``auditrail check``, ``auditrail worker``)."""
        ...
