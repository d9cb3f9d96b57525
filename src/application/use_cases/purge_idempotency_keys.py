"""Upkeep: forget idempotency keys older than their 24-hour life, in bounded batches."""

from __future__ import annotations

from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.idempotency import KEY_LIFETIME

BATCH = 5_000


class PurgeIdempotencyKeys:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, batch: int = BATCH) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._batch = batch

    def execute(self) -> int:
        """Delete expired keys a batch per transaction, so no lock is held for long."""
        cutoff = self._clock.now() - KEY_LIFETIME
        total = 0
        while True:
            with self._uow_factory() as uow:
                deleted = uow.idempotency.purge(cutoff, self._batch)
                uow.commit()
            total += deleted
            if deleted < self._batch:
                return total
