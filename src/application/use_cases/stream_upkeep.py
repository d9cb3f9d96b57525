"""Upkeep of log streams: wake streams whose job was lost, trim the delivery log."""

from __future__ import annotations

import logging
from datetime import timedelta

from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory

log = logging.getLogger(__name__)

BATCH = 1_000


class StreamUpkeep:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 log_retention: timedelta) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._log_retention = log_retention

    def execute(self) -> tuple[int, int]:
        """Return how many streams were woken and how many log entries removed.

        A stream with work that is neither leased nor backing off should have a job; if
        its wake-up was lost (Redis flushed, a worker killed mid-delivery whose lease has
        run out), this gives it one. A stream that does have one just gets a second,
        which finds the lease held, or nothing to do.
        """
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            stream_ids = uow.streams.needing_delivery(now, BATCH)
        if stream_ids:
            self._queue.enqueue_deliveries(stream_ids, force=True)
        with self._uow_factory() as uow:
            removed = uow.deliveries.purge(now - self._log_retention, BATCH * 10)
            uow.commit()
        if removed:
            log.info("removed %d delivery log entries older than %d days", removed,
                     self._log_retention.days)
        return len(stream_ids), removed
