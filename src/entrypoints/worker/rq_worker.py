"""``auditrail worker``: an RQ worker plus a periodic upkeep thread and RQ's scheduler."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import start_http_server
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler

from application.time_share import TimeShare
from entrypoints.container.installation import Container
from entrypoints.preflight import eviction_problem
from entrypoints.worker import jobs

log = logging.getLogger(__name__)

UPKEEP_INTERVAL_SECONDS = 15.0
SCHEDULER_INTERVAL_SECONDS = 1  # an integer: RQ sets key lifetimes from it


class Worker(SimpleWorker):
    """RQ's ``SimpleWorker``, stopping within a second of being told to, and sharing its
    time between linking events, delivering them and the long jobs (``reorder_queues``).

    RQ hears commands on a pub/sub thread that blocks up to 60 s for a message, and on
    shutdown unsubscribes, expecting the reply to wake that thread before it stops it.
    redis-py 8.2's ``stop()`` then joins the thread without a timeout; when the thread has
    already read the reply and gone back to waiting, the worker sat out the full 60 s
    after SIGTERM (3 of 6 runs of a test stopping four workers on a busy machine), past
    the grace period of most supervisors (Kubernetes' is 30 s), which then kill it. The
    thread is a daemon and holds nothing the process needs: it gets the second RQ meant
    to give it.
    """

    DELIVERY_SHARE = 0.1
    """The part of its time a worker gives deliveries while processing jobs wait."""
    LONG_JOB_SHARE = 0.1
    """The part of its time a worker gives the long jobs (exports, chain checks) while
    other jobs wait, over a longer memory (``LONG_JOB_HALF_LIFE``): one takes minutes."""
    LONG_JOB_HALF_LIFE = 600.0
    LONG_JOB_PATIENCE = 30.0
    """Seconds of other work first: a burst of events is linked before an export waiting
    with it starts, as it always was; only a backlog that lasts makes them take turns."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._delivering = TimeShare()
        self._long = TimeShare(half_life=self.LONG_JOB_HALF_LIFE)

    def execute_job(self, job: Any, queue: Queue) -> None:
        """Run the job, counting its time: deliveries against processing, long jobs
        against everything else."""
        started = time.monotonic()
        try:
            super().execute_job(job, queue)
        finally:
            seconds = time.monotonic() - started
            names = [each.name for each in self.queues]
            if len(names) > 1 and queue.name in names[:2]:
                self._delivering.spend(queue.name == names[1], seconds)
            if len(names) > 2:
                self._long.spend(queue.name == names[2], seconds)

    def unsubscribe(self) -> None:
        if self.pubsub_thread:
            self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)
            self.pubsub.close()

    def reorder_queues(self, reference_queue: Queue) -> None:
        """Processing first, unless deliveries have had less than their share of late;
        and the long jobs before both while they have had less than theirs.

        With processing strictly first, log streams got nothing for as long as events
        arrived faster than the workers linked them (a processing job always waiting): in
        15 s of three threads ingesting 11,400 events/s, two workers linked 108,500-111,000
        events and delivered none. Taking a waiting delivery after each processing job, or
        once a second, delivered 43,000-51,000 but linked 35-40 % fewer (a delivery job
        sends up to 20 batches, as long as a processing job). A tenth of the worker's time
        delivered 15,000-35,000 and linked 78,000-97,500: linking, which the signed log's
        cadence and every delivery wait on, keeps most of the workers, and no stream
        starves (``bench/streams.py --saturated-only``).

        Exports and chain checks once waited until nothing else did: in a soak whose
        ingest ran ahead of linking for three minutes no export finished, and a backfill
        of hours would have left every scheduled chain check overdue. They take a tenth
        too, over ten minutes rather than seconds, since one lasts minutes, once the
        worker has been busy with other jobs for 30 s.

        Never two of a kind in a row on its share: the one just taken has not been
        counted yet. ``queues`` is (processing, deliveries, exports), as
        ``job_queue.queues`` lists them.
        """
        if len(self.queues) < 2:
            return
        processing, deliveries, *rest = self.queues
        due = reference_queue.name != deliveries.name and \
            self._delivering.below(self.DELIVERY_SHARE)
        ordered = [deliveries, processing] if due else [processing, deliveries]
        long_due = bool(rest) and reference_queue.name != rest[0].name and \
            self._long.below(self.LONG_JOB_SHARE, after=self.LONG_JOB_PATIENCE)
        self._ordered_queues = [*rest, *ordered] if long_due else [*ordered, *rest]


def run_worker(container: Container, *, burst: bool = False,
               metrics_port: int | None = None) -> bool:
    """Work the queue until stopped (or until empty with ``burst``).

    ``SimpleWorker`` runs jobs in this process: jobs are few and large (a workspace drain),
    so the per-job fork of the default worker would only cost throughput and force every job
    to reconnect to the database. A crash of this process is still safe: each chunk is one
    transaction, and upkeep re-queues whatever was interrupted.
    """
    jobs.bind(container)
    if metrics_port:
        start_http_server(metrics_port)  # this worker's counters, for Prometheus to scrape
    queue = container.job_queue()
    scheduler = RQScheduler(queue.queues, connection=container.redis(),
                            interval=SCHEDULER_INTERVAL_SECONDS, logging_level=logging.WARNING)
    stop = threading.Event()
    if burst:
        jobs.upkeep()
        _schedule_once(scheduler, Outage("scheduling"))
        _retire(scheduler)
    else:
        threading.Thread(target=_upkeep_loop, args=(stop,), name="auditrail-upkeep",
                         daemon=True).start()
        threading.Thread(target=_scheduler_loop, args=(scheduler, stop),
                         name="auditrail-scheduler", daemon=True).start()
    worker = Worker(queue.queues, connection=container.redis())  # processing first
    # RQ's own start and stop lines are kept below WARNING with the rest of its chatter;
    # an operator reading a unit's log still wants to see the worker come and go.
    where = {"worker": worker.name, "queues": ",".join(worker.queue_names())}
    log.info("worker started", extra=where)
    if (policy := queue.eviction()) is not None:
        log.warning("Redis's %s", eviction_problem(policy))
    try:
        # No logging_level: RQ would set its logger to ours, and write three lines a job
        # at INFO; configure_logging keeps it at WARNING.
        return worker.work(burst=burst, with_scheduler=False, logging_level=None)
    finally:
        stop.set()
        log.info("worker stopped", extra=where)


class Outage:
    """A periodic task's failures as an operator wants to read them: the first, one a
    minute while they go on, and the recovery - not a line a second from every worker for
    as long as the database or Redis is down."""

    def __init__(self, task: str, clock: Callable[[], float] = time.monotonic,
                 interval: float = 60.0) -> None:
        self._task = task
        self._clock = clock
        self._interval = interval
        self._since: float | None = None
        self._said = 0.0

    def run(self, step: Callable[[], object],
            errors: tuple[type[Exception], ...] = (Exception,)) -> None:
        try:
            step()
        except errors as exc:
            self._failed(type(exc).__name__)
            return
        if self._since is not None:
            log.info("%s works again after %.0f s", self._task, self._clock() - self._since)
            self._since = None

    def _failed(self, kind: str) -> None:
        now = self._clock()
        if self._since is None:
            self._since = self._said = now
            log.warning("%s failed (%s); retrying", self._task, kind)
        elif now - self._said >= self._interval:
            self._said = now
            log.warning("%s still failing after %.0f s (%s)", self._task, now - self._since,
                        kind)


def _upkeep_loop(stop: threading.Event) -> None:
    """Upkeep at start (recover what a crash left behind), then every interval."""
    outage = Outage("upkeep")
    while True:
        outage.run(jobs.upkeep)
        if stop.wait(UPKEEP_INTERVAL_SECONDS):
            return


def _scheduler_loop(scheduler: RQScheduler, stop: threading.Event) -> None:
    """Queue scheduled jobs (delivery retries, batches that waited) once they are due, and
    sign the checkpoints that are due and wake the witnesses that have not cosigned them.

    RQ's scheduler, in a thread of this worker rather than in the process RQ would fork
    for it: a forked scheduler outlives a worker killed with SIGKILL (seen running on,
    orphaned, after such a test). One worker's scheduler works at a time, under RQ's lock;
    if that worker dies, another takes the lock over once it expires (about two minutes),
    and meanwhile upkeep wakes every stream whose retry is due.
    """
    scheduling, signing = Outage("scheduling"), Outage("signing checkpoints")
    witnessing = Outage("waking witnesses")
    try:
        while True:
            _schedule_once(scheduler, scheduling)
            # Every second, in every worker: signing is idempotent per size, so two
            # workers that sign one workspace at once store one checkpoint; a witness's
            # job is de-duplicated by the queue and leases the witness.
            signing.run(jobs.sign_checkpoints)
            witnessing.run(jobs.wake_witnesses)
            if stop.wait(SCHEDULER_INTERVAL_SECONDS):
                return
    finally:
        _retire(scheduler)


def _schedule_once(scheduler: RQScheduler, outage: Outage) -> None:
    def schedule() -> None:
        if scheduler.last_heartbeat is None:
            scheduler.register_birth()
        if scheduler.should_reacquire_locks:
            scheduler.acquire_locks()
        if scheduler.acquired_locks:
            scheduler.heartbeat()
            scheduler.enqueue_scheduled_jobs()

    outage.run(schedule, (RedisError,))


def _retire(scheduler: RQScheduler) -> None:
    """Leave the lock to the other workers at once, rather than when it expires."""
    try:
        scheduler.release_locks()
        scheduler.register_death()
    except RedisError:
        pass
