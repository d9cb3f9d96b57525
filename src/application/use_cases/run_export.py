"""The worker's side of an export: stream matching events into the file, measuring it."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import logging
import threading
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


class _HandedOver(Exception):
    """The export is no longer this run's: upkeep queued it again after the run's
    heartbeat fell silent (a frozen process), and another run may already hold it."""


class _Heartbeat:
    """Beats from a thread of its own while the file is written, so that a query sorting
    for minutes before its first row is not taken for a dead worker; the writer calls
    ``check`` as rows go by, to stop once a beat found the export handed over."""

    def __init__(self, beat: Callable[[], bool], interval: timedelta) -> None:
        self._beat = beat
        self._interval = interval.total_seconds()
        self._stopped = threading.Event()
        self._handed_over = threading.Event()
        self._thread = threading.Thread(target=self._run, name="export-heartbeat",
                                        daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def check(self) -> None:
        if self._handed_over.is_set():
            raise _HandedOver

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                if not self._beat():
                    self._handed_over.set()
                    return
            except Exception as exc:  # a database hiccup: the next beat may get through
                log.warning("export heartbeat failed (%s)", type(exc).__name__)


class RunExport:
    def __init__(self, uow_factory: UnitOfWorkFactory, blobs: BlobStore, clock: Clock,
                 lifetime: timedelta, metrics: Metrics = NO_METRICS,
                 heartbeat: timedelta = HEARTBEAT) -> None:
        self._metrics = metrics
        self._uow_factory = uow_factory
        self._blobs = blobs
        self._clock = clock
        self._lifetime = lifetime
        self._heartbeat = heartbeat

    def execute(self, export_id: str) -> Export | None:
        """Run a queued export to completion or failure; anything else is left alone (a
        duplicate job, or one for an export another worker already took).

        A run acts only on its own attempt: once upkeep has handed the export to another
        run, this one neither records an outcome nor puts its file in place.
        """
        export = self._transition(export_id, None, lambda e: e.start(self._clock.now()))
        if export is None:
            return None
        attempt = export.attempts
        try:
            written = self._write(export)
        except _HandedOver:
            log.warning("export %s was handed to another run after this one fell silent "
                        "for a minute; this run stops", export_id)
            return None
        except Exception as exc:  # the export records why; the worker carries on
            reason = _reason(exc)
            log.warning("export %s failed: %s", export_id, reason)
            return self._finish(export_id, attempt,
                                lambda e: e.fail(self._clock.now(), reason))
        return self._finish(export_id, attempt, lambda e: e.complete(
            self._clock.now(), written, self._lifetime))

    def _finish(self, export_id: str, attempt: int,
                step: Callable[[Export], Export]) -> Export | None:
        """Record the outcome, and count it once it is committed."""
        finished = self._transition(export_id, attempt, step)
        if finished is not None:
            self._metrics.export_finished(finished.status)
        return finished

    def _transition(self, export_id: str, attempt: int | None,
                    step: Callable[[Export], Export]) -> Export | None:
        """``step`` the export if it is queued (``attempt`` None) or running that attempt."""
        with self._uow_factory() as uow:
            export = uow.exports.lock(export_id)
            if export is None or not _holds(export, attempt):
                return None
            changed = step(export)
            uow.exports.update(changed)
            uow.commit()
        return changed

    def _write(self, export: Export) -> ExportFile:
        filters = parse_filters(export.filters)
        beat = functools.partial(self._beat, export.id, export.attempts)
        with _Heartbeat(beat, self._heartbeat) as heartbeat, \
                self._blobs.writer(export.blob_key) as blob:
            sink = _MeasuredSink(blob)
            stream: BinaryIO = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0) \
                if export.gzip else sink  # type: ignore[assignment]
            with self._uow_factory(snapshot=True) as uow:
                rows = uow.events.write_export(export.workspace_id, filters, export.format,
                                               stream, heartbeat.check)
            if export.gzip:
                stream.close()
            if not beat():  # the last word before the file is put in place
                raise _HandedOver
        return ExportFile(rows.count, sink.size, sink.digest.hexdigest(),
                          rows.first_sequence, rows.last_sequence)

    def _beat(self, export_id: str, attempt: int) -> bool:
        """Refresh the heartbeat; False when the export is no longer this run's."""
        with self._uow_factory() as uow:
            export = uow.exports.lock(export_id)
            if export is None or not _holds(export, attempt):
                return False
            uow.exports.update(export.beat(self._clock.now()))
            uow.commit()
        return True


def _holds(export: Export, attempt: int | None) -> bool:
    if attempt is None:
        return export.status == QUEUED
    return export.status == RUNNING and export.attempts == attempt


def _reason(exc: Exception) -> str:
    """A message an operator can act on, without internals or secrets."""
    if isinstance(exc, DomainError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"the export file could not be written ({exc.strerror or type(exc).__name__})"
    return f"the export job failed ({type(exc).__name__}); it can be requested again"
