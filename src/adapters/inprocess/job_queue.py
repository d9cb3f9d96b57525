"""A de-duplicating in-process job queue, drained by one thread (the embedded worker)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping

log = logging.getLogger(__name__)

PROCESS = "process"
EXPORT = "export"
_SUBJECT = {PROCESS: "workspace_id", EXPORT: "export_id"}
"""What a failed job's log line names it by, as the lines of the jobs themselves do."""


class InProcessJobQueue:
    """Embedded stand-in for RQ: same contract, no Redis.

    Work is a set of ``(kind, id)`` jobs, so a burst of ingests for one workspace collapses
    into one drain. Everything a job needs is durable in the database before it is queued
    here, so losing this queue in a crash only delays work until the next upkeep.
    """

    def __init__(self, upkeep_interval: float = 15.0) -> None:
        self._upkeep_interval = upkeep_interval
        self._waiting: dict[tuple[str, str], None] = {}
        self._busy = False
        self._stopping = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        self._add((PROCESS, workspace_id) for workspace_id in workspace_ids)

    def request_processing(self, workspace_ids: Iterable[str]) -> None:
        """Adding to a set in memory already costs a request nothing to wait for."""
        self.enqueue_processing(workspace_ids)

    def enqueue_export(self, export_id: str) -> None:
        self._add([(EXPORT, export_id)])

    def _add(self, jobs: Iterable[tuple[str, str]]) -> None:
        with self._condition:
            for job in jobs:
                self._waiting[job] = None
            self._condition.notify_all()

    def claim(self, workspace_id: str) -> None:
        """Nothing to do: a job leaves the waiting set when it starts."""

    def depth(self) -> int:
        with self._condition:
            return len(self._waiting)

    def ping(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def start(self, handlers: Mapping[str, Callable[[str], object]],
              upkeep: Callable[[], None]) -> None:
        """Start the worker thread; ``handlers`` run jobs by kind, ``upkeep`` periodically."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(dict(handlers), upkeep),
                                        name="auditrail-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current job, then stop (graceful shutdown)."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is waiting or running (for tests)."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._waiting and not self._busy,
                                            timeout)

    def _run(self, handlers: dict[str, Callable[[str], object]],
             upkeep: Callable[[], None]) -> None:
        next_upkeep = 0.0
        while True:
            if time.monotonic() >= next_upkeep:
                self._guarded(upkeep, {"job": "upkeep"})
                next_upkeep = time.monotonic() + self._upkeep_interval
            with self._condition:
                self._condition.wait_for(lambda: self._waiting or self._stopping,
                                         max(0.0, next_upkeep - time.monotonic()))
                if self._stopping:
                    return
                if not self._waiting:
                    continue
                kind, job_id = self._next_job()
                del self._waiting[(kind, job_id)]
                self._busy = True
            self._guarded(functools.partial(handlers[kind], job_id),
                          {"job": kind, _SUBJECT[kind]: job_id})
            with self._condition:
                self._busy = False
                self._condition.notify_all()

    def _next_job(self) -> tuple[str, str]:
        """The oldest processing job, else the oldest export: exports never hold back the
        linking of events (as with RQ, where they wait in a queue of their own)."""
        return next((job for job in self._waiting if job[0] == PROCESS),
                    next(iter(self._waiting)))

    @staticmethod
    def _guarded(step: Callable[[], object], job: dict[str, str]) -> None:
        """A failure is one line naming the job, never its exception's text (it can quote
        SQL parameters, and so event data); the traceback only at DEBUG."""
        try:
            step()
        except Exception as exc:
            log.error("background job failed (%s); upkeep will retry what it left",
                      type(exc).__name__, extra=job, exc_info=log.isEnabledFor(logging.DEBUG))
