"""A de-duplicating in-process job queue, drained by threads (the embedded worker)."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime

from application.time_share import TimeShare

log = logging.getLogger(__name__)

PROCESS = "process"
EXPORT = "export"
DELIVER = "deliver"
CHECK = "check"
_SUBJECT = {PROCESS: "workspace_id", EXPORT: "export_id", DELIVER: "destination_id",
            CHECK: "workspace_id"}
"""What a failed job's log line names it by, as the lines of the jobs themselves do."""
_MAIN_LANE = (PROCESS, EXPORT)
_DELIVERY_LANE = (DELIVER,)
_CHECK_LANE = (CHECK,)
DELIVERY_THREADS = 4
EXPORT_SHARE = 0.1
"""The part of the main thread's time exports take while events wait to be linked (over
ten minutes: one lasts minutes), once it spent ``EXPORT_PATIENCE`` seconds linking, as
``auditrail worker`` gives its long jobs."""
EXPORT_PATIENCE = 30.0

Job = tuple[str, str]


class InProcessJobQueue:
    """Embedded stand-in for RQ: same contract, no Redis.

    Work is a set of ``(kind, id)`` jobs, so a burst of ingests for one workspace collapses
    into one drain. Everything a job needs is durable in the database before it is queued
    here, so losing this queue in a crash only delays work until the next upkeep.

    One thread processes events and writes exports; a few others send stream deliveries,
    so a slow receiver never holds up processing, and one checks chains. A job may be due
    later (a retry's backoff), and a job is never run twice at once.
    """

    def __init__(self, upkeep_interval: float = 15.0,
                 delivery_threads: int = DELIVERY_THREADS,
                 export_patience: float = EXPORT_PATIENCE) -> None:
        self._upkeep_interval = upkeep_interval
        self._delivery_threads = delivery_threads
        self._waiting: dict[Job, float] = {}
        """Each job and when it is due (``time.monotonic``)."""
        self._running: set[Job] = set()
        self._stopping = False
        self._condition = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._exporting = TimeShare(half_life=600.0)
        """The main thread's time on exports against processing."""
        self._patience = export_patience

    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        self._add((PROCESS, workspace_id) for workspace_id in workspace_ids)

    def request_processing(self, workspace_ids: Iterable[str]) -> None:
        """Adding to a set in memory already costs a request nothing to wait for."""
        self.enqueue_processing(workspace_ids)

    def enqueue_export(self, export_id: str) -> None:
        self._add([(EXPORT, export_id)])

    def enqueue_deliveries(self, stream_ids: Iterable[str], *, force: bool = False) -> None:
        self._add((DELIVER, stream_id) for stream_id in stream_ids)

    def enqueue_chain_checks(self, workspace_ids: Iterable[str]) -> None:
        self._add((CHECK, workspace_id) for workspace_id in workspace_ids)

    def schedule_delivery(self, stream_id: str, at: datetime) -> None:
        wait = max(0.0, (at - datetime.now(UTC)).total_seconds())
        self._add([(DELIVER, stream_id)], time.monotonic() + wait)

    def claim_delivery(self, stream_id: str) -> None:
        """Nothing to do: a job leaves the waiting set when it starts."""

    def _add(self, jobs: Iterable[Job], due: float | None = None) -> None:
        due = time.monotonic() if due is None else due
        with self._condition:
            for job in jobs:
                # A job already waiting keeps the earlier time: a wake-up never delays it.
                self._waiting[job] = min(due, self._waiting.get(job, due))
            self._condition.notify_all()

    def claim(self, workspace_id: str) -> None:
        """Nothing to do: a job leaves the waiting set when it starts."""

    def depth(self) -> int:
        with self._condition:
            return len(self._waiting)

    def ping(self) -> bool:
        return not self._threads or all(thread.is_alive() for thread in self._threads)

    def workers(self) -> int | None:
        """Not a process of its own: ``ping`` says whether its threads are alive."""
        return None

    def eviction(self) -> str | None:
        return None  # nothing but this process's memory, which drops nothing

    def start(self, handlers: Mapping[str, Callable[[str], object]],
              upkeep: Callable[[], None], tick: Callable[[], object] | None = None,
              tick_interval: float = 1.0) -> None:
        """Start the worker threads; ``handlers`` run jobs by kind, ``upkeep`` periodically
        between jobs, and ``tick`` (short and frequent: signing checkpoints) every
        ``tick_interval`` on a thread of its own, so that no long job delays it."""
        if self._threads:
            return
        lanes: list[tuple[Collection[str], Callable[[], None] | None, str]] = [
            (_MAIN_LANE, upkeep, "auditrail-worker")]
        if DELIVER in handlers:
            lanes += [(_DELIVERY_LANE, None, f"auditrail-delivery-{n}")
                      for n in range(self._delivery_threads)]
        if CHECK in handlers:  # a check reads a whole chain: never ahead of processing
            lanes.append((_CHECK_LANE, None, "auditrail-checker"))
        for kinds, lane_upkeep, name in lanes:
            thread = threading.Thread(target=self._run, args=(dict(handlers), kinds, lane_upkeep),
                                      name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        if tick is not None:
            thread = threading.Thread(target=self._every, args=(tick, tick_interval),
                                      name="auditrail-ticker", daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current jobs, then stop (graceful shutdown)."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no job is due or running (for tests); one due later does not count."""
        with self._condition:
            return self._condition.wait_for(self._idle, timeout)

    def _idle(self) -> bool:
        now = time.monotonic()
        return not self._running and all(due > now for due in self._waiting.values())

    def _run(self, handlers: dict[str, Callable[[str], object]], kinds: Collection[str],
             upkeep: Callable[[], None] | None) -> None:
        next_upkeep = 0.0
        while True:
            if upkeep is not None and time.monotonic() >= next_upkeep:
                self._guarded(upkeep, {"job": "upkeep"})
                next_upkeep = time.monotonic() + self._upkeep_interval
            with self._condition:
                job, wait = self._take(kinds)
                while job is None and not self._stopping:
                    if upkeep is not None:
                        wait = min(wait, next_upkeep - time.monotonic())
                        if wait <= 0:
                            break
                    self._condition.wait(wait)
                    job, wait = self._take(kinds)
                if self._stopping:
                    if job is not None:
                        self._running.discard(job)
                    return
            if job is None:
                continue  # time for upkeep
            kind, job_id = job
            started = time.monotonic()
            self._guarded(functools.partial(handlers[kind], job_id),
                          {"job": kind, _SUBJECT[kind]: job_id})
            with self._condition:
                if kinds == _MAIN_LANE:
                    self._exporting.spend(kind == EXPORT, time.monotonic() - started)
                self._running.discard(job)
                self._condition.notify_all()

    def _every(self, tick: Callable[[], object], interval: float) -> None:
        while True:
            self._guarded(tick, {"job": "tick"})
            with self._condition:
                if self._condition.wait_for(lambda: self._stopping, interval):
                    return

    def _take(self, kinds: Collection[str]) -> tuple[Job | None, float]:
        """The job to run now (marked running), or None and how long until one is due.

        Processing before exports, unless exports had less than their share of late, once
        linking had its patience (as with RQ, where they wait in separate queues): exports
        do not hold back the linking of a burst of events, nor wait for as long as events
        arrive faster than they are linked.
        Otherwise the longest due first.
        """
        now = time.monotonic()
        order = list(kinds)
        if kinds == _MAIN_LANE and self._exporting.below(EXPORT_SHARE, after=self._patience):
            order = [EXPORT, PROCESS]
        due = [(order.index(job[0]), when, job) for job, when in self._waiting.items()
               if job[0] in kinds and job not in self._running]
        ready = [entry for entry in due if entry[1] <= now]
        if not ready:
            soonest = min((when for _, when, _ in due), default=now + 3600.0)
            return None, max(0.001, soonest - now)
        _, _, job = min(ready)
        del self._waiting[job]
        self._running.add(job)
        return job, 0.0

    @staticmethod
    def _guarded(step: Callable[[], object], job: dict[str, str]) -> None:
        """A failure is one line naming the job, never its exception's text (it can quote
        SQL parameters, and so event data); the traceback only at DEBUG."""
        try:
            step()
        except Exception as exc:
            log.error("background job failed (%s); upkeep will retry what it left",
                      type(exc).__name__, extra=job, exc_info=log.isEnabledFor(logging.DEBUG))
