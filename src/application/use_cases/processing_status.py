"""What an operator watches: the pending backlog, how late processing is, queued jobs."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class ProcessingStatus:
    pending_events: int
    lag_seconds: float
    """Age of the oldest pending event: 0 when nothing waits."""
    queued_jobs: int


class GetProcessingStatus:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue

    def execute(self) -> ProcessingStatus:
        with self._uow_factory(read_only=True) as uow:
            pending, oldest = uow.events.pending_backlog()
        lag = (self._clock.now() - oldest).total_seconds() if oldest is not None else 0.0
        return ProcessingStatus(pending, max(0.0, lag), self._queue.depth())
