"""The worker's side of an export: stream matching events into the file, measuring it."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import BinaryIO

from application.ports.blobs import BlobStore
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.errors import DomainError
from domain.event_search import parse_filters
from domain.exports import QUEUED, RUNNING, Export, ExportFile

log = logging.getLogger(__name__)

HEARTBEAT = timedelta(seconds=10)


class _MeasuredSink(io.RawIOBase):
    """Passes bytes to the blob and keeps their count and SHA-256 on the way."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self.size = 0
        self.digest = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class _Heartbeat:
    """Called often by the writer; beats at most once per ``HEARTBEAT``."""

    def __init__(self, clock: Clock, beat: Callable[[], object]) -> None:
        self._clock = clock
        self._beat = beat
        self._next = clock.now() + HEARTBEAT

    def __call__(self) -> None:
        if self._clock.now() >= self._next:
            self._beat()
            self._next = self._clock.now() + HEARTBEAT


class RunExport:
    def __init__(self, uow_factory: UnitOfWorkFactory, blobs: BlobStore, clock: Clock,
                 lifetime: timedelta, metrics: Metrics = NO_METRICS) -> None:
        self._metrics = metrics
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._clock = clock
        self._lifetime = lifetime

    def execute(self, export_id: str) -> Export | None:
        """Run a queued export to completion or failure; anything else is left alone (a
        duplicate job, or one for an export another worker already took)."""
        export = self._transition(export_id, QUEUED, lambda e: e.start(self._clock.now()))
        if export is None:
            return None
        try:
            written = self._write(export)
        except Exception as exc:  # the export records why; the worker carries on
            reason = _reason(exc)
            log.warning("export %s failed: %s", export_id, reason)
            return self._finish(export_id, lambda e: e.fail(self._clock.now(), reason))
        return self._finish(export_id, lambda e: e.complete(self._clock.now(), written,
                                                            self._lifetime))

    def _finish(self, export_id: str, step: Callable[[Export], Export]) -> Export | None:
        """Record the outcome, and count it once it is committed."""
        finished = self._transition(export_id, RUNNING, step)
        if finished is not None:
            self._metrics.export_finished(finished.status)
        return finished

    def _transition(self, export_id: str, expected: str,
                    step: Callable[[Export], Export]) -> Export | None:
        with self._uow_factory() as uow:
            export = uow.exports.lock(export_id)
            if export is None or export.status != expected:
                return None
            changed = step(export)
            uow.exports.update(changed)
            uow.commit()
        return changed

    def _write(self, export: Export) -> ExportFile:
        filters = parse_filters(export.filters)
        beat = _Heartbeat(self._clock, lambda: self._beat(export.id))
        with self._blobs.writer(export.blob_key) as blob:
            sink = _MeasuredSink(blob)
            stream: BinaryIO = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) \
                if export.gzip else sink  # type: ignore[assignment]
            with self._uow_factory(snapshot=True) as uow:
                rows = uow.events.write_export(export.workspace_id, filters, export.format,
                                               stream, beat)
            if export.gzip:
                stream.close()
        return ExportFile(rows, sink.size, sink.digest.hexdigest())

    def _beat(self, export_id: str) -> None:
        with self._uow_factory() as uow:
            export = uow.exports.lock(export_id)
            if export is not None and export.status == RUNNING:
                uow.exports.update(export.beat(self._clock.now()))
                uow.commit()


def _reason(exc: Exception) -> str:
    """A message an operator can act on, without internals or secrets."""
    if isinstance(exc, DomainError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"the export file could not be written ({exc.strerror or type(exc).__name__})"
    return f"the export job failed ({type(exc).__name__}); it can be requested again"
