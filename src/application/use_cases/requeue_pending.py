"""Upkeep: wake processing for pending events whose job was lost (Redis flushed, worker killed)."""

from __future__ import annotations

from datetime import timedelta

from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory

STALE_AFTER = timedelta(seconds=30)


class RequeuePending:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 stale_after: timedelta = STALE_AFTER) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._stale_after = stale_after

    def execute(self) -> list[str]:
        """Re-queue every workspace with events pending longer than a healthy queue needs."""
        with self._uow_factory(read_only=True) as uow:
            stale = uow.events.workspaces_with_pending(self._clock.now() - self._stale_after)
        if stale:
            # Forced: a wake-up marker may outlive the job it announced (Redis lost the job).
            self._queue.enqueue_processing(stale, force=True)
        return stale
