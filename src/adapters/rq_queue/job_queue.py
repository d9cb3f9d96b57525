"""Enqueue de-duplicated "process workspace W" jobs on RQ."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.queue import EnqueueData

log = logging.getLogger(__name__)

WAKE_TTL_SECONDS = 600
SEND_INTERVAL_SECONDS = 0.01


class RqJobQueue:
    """One job per workspace while a job is waiting, however many events arrive meanwhile.

    A ``SET NX`` marker says "a job for W is queued". The job deletes it (``claim``) before
    it reads pending events, so an event committed after that read always finds the marker
    gone and queues a fresh job: nothing is left behind, and nothing is queued twice.

    Requests do not wait for Redis at all (``request_processing``): they note their
    workspace, and one thread per process sends every workspace noted since its last send
    in one pipelined round trip, then pauses ``send_interval`` seconds. Under load that is
    one round trip per interval instead of one per request; when idle, the first request
    is sent at once.

    Exports and stream deliveries wait in queues of their own (``<name>-exports``,
    ``<name>-deliveries``), listed after processing in ``queues``: a worker takes
    processing jobs first, so one tenant's pile of exports cannot hold back the linking of
    every tenant's events; deliveries get a tenth of its time while both wait, and the
    long jobs (exports, chain checks) a tenth once linking has run behind for a while
    (``rq_worker.Worker.reorder_queues``), so that neither starves while linking runs
    behind. Deliveries come before exports: each is short, and a receiver's lag is what
    they are measured by.

    Delivery jobs are de-duplicated per stream the same way, and a stream that must wait
    (a retry's backoff, a batch filling up) gets a job scheduled with RQ's scheduler,
    which ``auditrail worker`` runs.
    """

    def __init__(self, redis: Redis, job_path: str, export_job_path: str,
                 delivery_job_path: str = "", check_job_path: str = "",
                 queue_name: str = "auditrail",
                 job_timeout: int = 600, export_timeout: int = 6 * 3600,
                 delivery_timeout: int = 600, check_timeout: int = 24 * 3600,
                 send_interval: float = SEND_INTERVAL_SECONDS) -> None:
        """``check_timeout``: a chain check reads the whole chain (a day: some 1.7 billion
        events); one that hangs rather than reads is taken again by another worker when its
        ten-minute claim lapses, long before RQ stops it."""
        self._redis = redis
        self._queue = Queue(queue_name, connection=redis)
        self._exports = Queue(f"{queue_name}-exports", connection=redis)
        self._deliveries = Queue(f"{queue_name}-deliveries", connection=redis)
        self._job_path = job_path
        self._export_job_path = export_job_path
        self._delivery_job_path = delivery_job_path
        self._check_job_path = check_job_path
        self._export_timeout = export_timeout
        self._delivery_timeout = delivery_timeout
        self._check_timeout = check_timeout
        self._prefix = f"{queue_name}:wake:"
        self._delivery_prefix = f"{queue_name}:deliver:"
        self._job_timeout = job_timeout
        self._sender = _Sender(self.enqueue_processing, send_interval)

    @property
    def queue(self) -> Queue:
        """Processing jobs."""
        return self._queue

    @property
    def queues(self) -> list[Queue]:
        """Every queue, in the order a worker should take jobs from them."""
        return [self._queue, self._deliveries, self._exports]

    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        """Mark every workspace in one pipelined round trip, then enqueue a job for each
        one that was not marked yet (all of them when ``force``) in another."""
        try:
            self._wake(self._queue, self._prefix, self._job_path, self._job_timeout,
                       workspace_ids, force)
        except RedisError as exc:
            # The events are already committed; upkeep re-queues them once Redis is back.
            _warn("enqueue processing", exc)

    def enqueue_deliveries(self, stream_ids: Iterable[str], *, force: bool = False) -> None:
        try:
            self._wake(self._deliveries, self._delivery_prefix, self._delivery_job_path,
                       self._delivery_timeout, stream_ids, force)
        except RedisError as exc:
            _warn("enqueue deliveries", exc)

    def schedule_delivery(self, stream_id: str, at: datetime) -> None:
        """Marked for as long as the wait and then some, so the wake-ups of every chunk
        processed meanwhile are swallowed; the job itself waits in RQ's scheduled
        registry until the scheduler (in ``auditrail worker``) queues it."""
        wait = max(0.0, (at - datetime.now(UTC)).total_seconds())
        try:
            if not self._redis.set(self._delivery_prefix + stream_id, 1, nx=True,
                                   ex=int(wait) + WAKE_TTL_SECONDS):
                return  # a job is queued or scheduled already
            if wait <= 0:
                self._deliveries.enqueue_many([self._job(
                    self._delivery_job_path, stream_id, self._delivery_timeout)])
            else:
                self._deliveries.enqueue_at(at, self._delivery_job_path, stream_id,
                                            job_timeout=self._delivery_timeout, result_ttl=0,
                                            failure_ttl=86_400)
        except RedisError as exc:
            _warn("schedule a delivery", exc)

    def claim_delivery(self, stream_id: str) -> None:
        self._redis.delete(self._delivery_prefix + stream_id)

    def _wake(self, queue: Queue, prefix: str, path: str, timeout: int,
              ids: Iterable[str], force: bool) -> None:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return
        with self._redis.pipeline(transaction=False) as pipe:
            for subject in ids:
                pipe.set(prefix + subject, 1, nx=not force, ex=WAKE_TTL_SECONDS)
            marked = pipe.execute()
        due = [subject for subject, new in zip(ids, marked, strict=True) if new]
        if due:
            queue.enqueue_many([self._job(path, subject, timeout) for subject in due])

    def request_processing(self, workspace_ids: Iterable[str]) -> None:
        self._sender.add(workspace_ids)

    def flush(self) -> None:
        """Send what requests noted, now (tests, and before a process exits)."""
        self._sender.flush()

    def close(self) -> None:
        self._sender.close()

    def enqueue_export(self, export_id: str) -> None:
        try:
            self._exports.enqueue_many([self._job(self._export_job_path, export_id,
                                                  self._export_timeout)])
        except RedisError as exc:
            _warn("enqueue an export", exc)

    def enqueue_chain_checks(self, workspace_ids: Iterable[str]) -> None:
        try:
            self._exports.enqueue_many([self._job(self._check_job_path, workspace_id,
                                                  self._check_timeout)
                                        for workspace_id in workspace_ids])
        except RedisError as exc:
            _warn("enqueue chain checks", exc)

    def _job(self, path: str, argument: str, timeout: int) -> EnqueueData:
        """Ids only, never objects; results are not kept (the database has them).

        Keeping them even 10 s would make RQ's own work per job about a quarter cheaper
        (no status reads to delete the job; 15 % more drains/s in ``bench/tenants.py``)
        but holds some 6 KB of Redis per job meanwhile, plus a finished-registry entry
        until RQ's ten-minute clean-up: tens of MiB at a few hundred jobs a second.
        """
        return Queue.prepare_data(path, args=(argument,), timeout=timeout, result_ttl=0,
                                  failure_ttl=86_400)

    def claim(self, workspace_id: str) -> None:
        self._redis.delete(self._prefix + workspace_id)

    def depth(self) -> int:
        try:
            return sum(queue.count for queue in self.queues)
        except RedisError:
            return 0

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except RedisError:
            return False

    def eviction(self) -> str | None:
        """Read from ``INFO memory``, which managed services that rename or refuse
        ``CONFIG GET`` still answer."""
        try:
            memory = self._redis.info("memory")
        except RedisError:
            return None
        policy = str(memory.get("maxmemory_policy", "noeviction"))
        return policy if int(memory.get("maxmemory", 0)) and policy != "noeviction" else None

    def workers(self) -> int | None:
        """RQ's registry of live workers: a worker killed outright stays in it until its
        registration expires (RQ's worker TTL, 7 minutes)."""
        try:
            return len(Worker.all(queue=self.queues[0]))
        except RedisError:
            return None


def _warn(what: str, exc: Exception) -> None:
    """With Redis down, every process says this each time it sends its wake-ups, up to a
    hundred times a second under load: ``entrypoints.logs`` lets one a minute through for
    each ``what``."""
    log.warning("could not %s (%s); upkeep will retry", what, type(exc).__name__)


class _Sender:
    """The thread behind ``request_processing``: started on first use (after any fork),
    closed at interpreter exit, so a graceful shutdown sends everything it noted.

    A request wakes the thread only when it is idle; while it pauses between sends,
    requests just note their workspace. Waking it from the first request after every send
    cost the server some 300 µs of CPU per single-event request under load (a sixth of
    the request, in ``bench/ingest.py``): thread switches and GIL hand-overs, not Redis.
    """

    def __init__(self, send: Callable[[list[str]], None], interval: float) -> None:
        self._send = send
        self._interval = interval
        self._noted: dict[str, None] = {}
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closing = False
        self._idle = False

    def add(self, workspace_ids: Iterable[str]) -> None:
        with self._condition:
            if self._pid != os.getpid() and not self._closing:
                self._start()  # first use, or first use in a forked child
            for workspace_id in workspace_ids:
                self._noted[workspace_id] = None
            closing = self._closing
            if self._idle:  # otherwise it is pausing between sends, and will look
                self._idle = False
                self._condition.notify()
        if closing:  # a request finishing during shutdown sends its own
            self.flush()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._noted = {}
        self._thread = threading.Thread(target=self._run, name="auditrail-wake-ups",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._noted and not self._closing:
                    self._idle = True
                    self._condition.wait()
                self._idle = False
                if self._closing:
                    return
            try:
                self.flush()
            except Exception:  # a bug must not stop every later wake-up; upkeep covers these
                log.exception("sending wake-ups failed")
            with self._condition:  # the pause in which requests' wake-ups gather
                self._condition.wait_for(lambda: self._closing, self._interval)

    def flush(self) -> None:
        with self._condition:
            noted, self._noted = list(self._noted), {}
        if noted:
            self._send(noted)

    def close(self) -> None:
        with self._condition:
            self._closing = True
            self._condition.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()
