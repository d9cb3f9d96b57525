"""The processing step's part in log streams: wake the workspace's streams after a chunk.

Nothing is written per stream (see ``domain.streams``): the linked events are what the
streams owe. The wake-ups go after the commit, so a delivery job never looks before the
events it was woken for are there; one lost with a crash only waits for upkeep.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from application.ports.jobs import JobQueue
from application.ports.unit_of_work import UnitOfWork
from domain.events import Event


class StreamFanout:
    def __init__(self, queue: JobQueue) -> None:
        self._queue = queue

    def __call__(self, uow: UnitOfWork, events: Sequence[Event]) -> Callable[[], None] | None:
        stream_ids = uow.streams.active_ids(events[0].workspace_id)
        if not stream_ids:
            return None
        return lambda: self._queue.enqueue_deliveries(stream_ids)
