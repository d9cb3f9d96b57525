"""Upkeep of exports: expire old files, retry interrupted jobs, re-queue lost ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from application.ports.blobs import BlobStore
from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.exports import COMPLETED, QUEUED, RUNNING

log = logging.getLogger(__name__)

SILENCE = timedelta(seconds=60)
"""A running export whose heartbeat is this old lost its worker."""


@dataclass(frozen=True)
class UpkeepReport:
    expired: int = 0
    retried: int = 0
    requeued: int = 0
    partials_removed: int = 0


class ExportUpkeep:
    def __init__(self, uow_factory: UnitOfWorkFactory, blobs: BlobStore, clock: Clock,
                 queue: JobQueue, requeue_after: timedelta, batch: int = 500) -> None:
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._clock = clock
        self._queue = queue
        self._requeue_after = requeue_after
        self._batch = batch

    def execute(self) -> UpkeepReport:
        now = self._clock.now()
        expired = retried = requeued = 0
        wake: list[str] = []
        with self._uow_factory() as uow:
            for export in uow.exports.needing_upkeep(now, now - SILENCE,
                                                     now - self._requeue_after, self._batch):
                if export.status == COMPLETED:
                    # The file goes first: an export marked expired never points at a file.
                    self._blobs.delete(export.blob_key)
                    uow.exports.update(export.expire())
                    expired += 1
                elif export.status == RUNNING:
                    changed = export.interrupted(now)
                    uow.exports.update(changed)
                    if changed.status == QUEUED:
                        wake.append(export.id)
                    retried += 1
                elif export.status == QUEUED:
                    wake.append(export.id)
                    requeued += 1
            uow.commit()
        for export_id in wake:  # after the commit, so a worker finds them queued
            self._queue.enqueue_export(export_id)
        removed = self._blobs.sweep_partials(SILENCE.total_seconds() * 10)
        if expired or retried or requeued or removed:
            log.info("export upkeep: %d expired, %d retried, %d re-queued, %d partial files "
                     "removed", expired, retried, requeued, removed)
        return UpkeepReport(expired, retried, requeued, removed)
