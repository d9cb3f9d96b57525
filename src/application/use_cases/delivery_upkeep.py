"""Upkeep of deliveries: wake destinations whose job was lost, trim the delivery log and
the alert windows that can no longer matter."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.alert_evaluation import expired_before

log = logging.getLogger(__name__)

BATCH = 1_000


@dataclass(frozen=True)
class DeliveryUpkeepReport:
    woken: int = 0
    log_entries_removed: int = 0
    windows_removed: int = 0


class DeliveryUpkeep:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 log_retention: timedelta) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._log_retention = log_retention

    def execute(self) -> DeliveryUpkeepReport:
        """A stream or an alert rule with something to send that is neither leased nor
        backing off should have a job; if its wake-up was lost (Redis flushed, a worker
        killed mid-delivery whose lease has run out), this gives it one. One that has a
        job just gets a second, which finds the lease held, or nothing to do."""
        now = self._clock.now()
        with self._uow_factory(read_only=True) as uow:
            woken = (uow.streams.needing_delivery(now, BATCH)
                     + uow.alert_rules.needing_delivery(now, BATCH))
        if woken:
            self._queue.enqueue_deliveries(woken, force=True)
        with self._uow_factory() as uow:
            removed = uow.deliveries.purge(now - self._log_retention, BATCH * 10)
            _, oldest_pending = uow.events.pending_backlog()
            windows = uow.alert_windows.purge(expired_before(now, oldest_pending), BATCH * 10)
            uow.commit()
        if removed or windows:
            log.info("removed %d delivery log entries older than %d days and %d alert "
                     "windows forgotten", removed, self._log_retention.days, windows)
        return DeliveryUpkeepReport(len(woken), removed, windows)
