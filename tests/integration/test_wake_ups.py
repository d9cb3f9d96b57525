"""Wake-ups from the request path: noted per process, sent in batches by one thread."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from redis import Redis

from adapters.rq_queue.job_queue import RqJobQueue, _Sender
from adapters.rq_queue.job_queue import log as queue_log
from entrypoints.logs import OUTAGE_LINES, RepeatedLines
from tests.queues import forget_queue


@pytest.fixture
def make_queue(redis_url: str) -> Iterator:  # type: ignore[type-arg]
    made: list[RqJobQueue] = []

    def make(interval: float) -> RqJobQueue:
        queue = RqJobQueue(Redis.from_url(redis_url), "jobs.process", "jobs.export",
                           queue_name=f"test-wake-{uuid.uuid4().hex[:8]}",
                           send_interval=interval)
        made.append(queue)
        return queue

    yield make
    for queue in made:
        queue.close()
        for rq_queue in queue.queues:
            forget_queue(rq_queue)


def _jobs(queue: RqJobQueue, expected: int, timeout: float = 3.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while queue.queue.count < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return sorted(job.args[0] for job in queue.queue.jobs)


def test_a_burst_of_requests_queues_one_job_per_workspace(make_queue) -> None:  # type: ignore[no-untyped-def]
    queue = make_queue(0.05)
    for _ in range(300):
        queue.request_processing(["ws_a"])
        queue.request_processing(["ws_b"])
    assert _jobs(queue, 2) == ["ws_a", "ws_b"]
    time.sleep(0.1)
    assert queue.queue.count == 2  # nothing more trickled in
    queue.claim("ws_a")  # its job started: the next event must wake a new one
    queue.request_processing(["ws_a"])
    assert _jobs(queue, 3) == ["ws_a", "ws_a", "ws_b"]


class _CountingCondition(threading.Condition):
    notified = 0

    def notify(self, n: int = 1) -> None:
        self.notified += 1
        super().notify(n)


def test_a_steady_stream_of_requests_does_not_wake_the_sender() -> None:
    """Requests wake the thread only when it is idle: waking it from one request per
    interval cost each request more server CPU (thread switches) than the sends did."""
    sent: list[list[str]] = []
    sender = _Sender(sent.append, 0.05)
    sender._condition = condition = _CountingCondition()
    deadline = time.monotonic() + 0.6
    number = 0
    while time.monotonic() < deadline:
        sender.add([f"ws_{number}"])
        number += 1
        time.sleep(0.002)
    sender.close()
    assert sorted(ws for batch in sent for ws in batch) == sorted(f"ws_{n}" for n in range(number))
    assert 4 <= len(sent) <= 14  # one send per pause, not one per request
    assert condition.notified <= 3  # the first request, and a stall or two under load


def test_closing_sends_what_was_noted(make_queue) -> None:  # type: ignore[no-untyped-def]
    queue = make_queue(60.0)
    queue.request_processing(["ws_a"])  # idle: sent at once
    assert _jobs(queue, 1) == ["ws_a"]
    queue.request_processing(["ws_b"])  # would wait for the interval
    time.sleep(0.05)
    assert queue.queue.count == 1
    queue.close()  # at exit (atexit), or when a test stack closes
    assert _jobs(queue, 2, timeout=0) == ["ws_a", "ws_b"]
    queue.request_processing(["ws_c"])  # after closing: sent by the caller itself
    assert _jobs(queue, 3, timeout=0) == ["ws_a", "ws_b", "ws_c"]


def test_enqueue_marks_many_workspaces_in_one_call(make_queue) -> None:  # type: ignore[no-untyped-def]
    queue = make_queue(0.05)
    queue.enqueue_processing(["ws_a", "ws_b", "ws_a"])
    queue.enqueue_processing(["ws_a", "ws_c"])
    assert _jobs(queue, 3, timeout=0) == ["ws_a", "ws_b", "ws_c"]
    queue.enqueue_processing(["ws_a"], force=True)  # upkeep, past a marker
    assert _jobs(queue, 4, timeout=0) == ["ws_a", "ws_a", "ws_b", "ws_c"]


def test_a_process_exiting_sends_what_it_noted(redis_url: str) -> None:
    """Graceful shutdown of a server process ends in interpreter exit, which sends."""
    name = f"test-wake-{uuid.uuid4().hex[:8]}"
    script = (
        "import sys\n"
        "from redis import Redis\n"
        "from adapters.rq_queue.job_queue import RqJobQueue\n"
        f"queue = RqJobQueue(Redis.from_url({redis_url!r}), 'jobs.process', 'jobs.export',\n"
        f"                   queue_name={name!r}, send_interval=60)\n"
        "queue.request_processing(['ws_a'])\n"  # sent at once
        "import time; time.sleep(0.2)\n"
        "queue.request_processing(['ws_b'])\n"  # noted, 60 s from being sent
        "sys.exit(0)\n")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    queue = RqJobQueue(Redis.from_url(redis_url), "jobs.process", "jobs.export",
                       queue_name=name)
    try:
        assert _jobs(queue, 2, timeout=0) == ["ws_a", "ws_b"]
    finally:
        forget_queue(queue.queue)


def test_processing_is_taken_before_exports_queued_earlier(make_queue) -> None:  # type: ignore[no-untyped-def]
    """One tenant's pile of exports must not hold back the linking of every tenant's
    events: a worker listening to ``queues`` takes processing first."""
    from rq import Queue

    queue = make_queue(0.01)
    for number in range(3):
        queue.enqueue_export(f"exp_{number}")
    queue.enqueue_processing(["ws_late"])
    assert queue.depth() == 4
    taken = []
    while (found := Queue.dequeue_any(queue.queues, None, connection=queue.queue.connection)):
        taken.append(found[0].args[0])
    assert taken == ["ws_late", "exp_0", "exp_1", "exp_2"]


TAKEN: list[str] = []
JOB_SECONDS = 0.02
WORKED = [0.0]
"""Seconds of jobs run, as a clock the worker can be given: each job counts exactly
``JOB_SECONDS``, whatever else the machine is doing meanwhile."""


def record(subject: str) -> None:
    """A job of 20 ms that notes what it was for: ``auditrail worker`` runs jobs in its
    process."""
    TAKEN.append(subject)
    WORKED[0] += JOB_SECONDS
    time.sleep(JOB_SECONDS)


def test_deliveries_get_a_share_while_processing_jobs_wait(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events arriving faster than they are linked keep a processing job always waiting;
    log streams must still be delivered to meanwhile, not only once ingest eases, and
    take no more than their share of the worker from linking.

    Timed by the jobs' own clock, as below: by wall time, RQ's round trips on a loaded
    machine gave the second delivery its turn a job late in CI."""
    from types import SimpleNamespace

    from entrypoints.worker import rq_worker
    from entrypoints.worker.rq_worker import Worker

    monkeypatch.setattr(rq_worker, "time", SimpleNamespace(monotonic=lambda: WORKED[0]))
    job = f"{__name__}.record"
    queue = RqJobQueue(Redis.from_url(redis_url), job, job, job,
                       queue_name=f"test-turns-{uuid.uuid4().hex[:8]}")
    try:
        queue.enqueue_export("exp_0")
        queue.enqueue_processing([f"ws_{n}" for n in range(15)])
        queue.enqueue_deliveries(["lst_a", "lst_b"])
        TAKEN.clear()
        Worker(queue.queues, connection=queue.queue.connection).work(
            burst=True, with_scheduler=False, logging_level=None)
        assert len(TAKEN) == 18 and TAKEN[-1] == "exp_0"
        first, second = TAKEN.index("lst_a"), TAKEN.index("lst_b")
        assert second < TAKEN.index("ws_14")  # not starved until processing ran out
        assert second - first > 5  # a tenth of the time, not every other turn
    finally:
        queue.close()
        for rq_queue in queue.queues:
            forget_queue(rq_queue)


def test_long_jobs_get_a_share_once_processing_had_its_patience(
        redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports and chain checks once waited for as long as a processing job did: a
    backlog of hours (a backfill) finished no export and left every scheduled check
    overdue. Past the worker's patience they take a tenth of its time, not more.

    The worker times each job by the clock it is given: here the jobs' own, so that each
    counts 20 ms, and the turns below are exact rather than at the mercy of how long RQ's
    own round trips took on a loaded machine (in CI, one turn came a job early)."""
    from types import SimpleNamespace

    from entrypoints.worker import rq_worker
    from entrypoints.worker.rq_worker import Worker

    monkeypatch.setattr(rq_worker, "time", SimpleNamespace(monotonic=lambda: WORKED[0]))

    job = f"{__name__}.record"
    queue = RqJobQueue(Redis.from_url(redis_url), job, job, job, job,
                       queue_name=f"test-turns-{uuid.uuid4().hex[:8]}")
    try:
        queue.enqueue_export("exp_0")
        queue.enqueue_export("exp_1")
        queue.enqueue_chain_checks(["ws_check"])
        queue.enqueue_processing([f"ws_{n}" for n in range(40)])
        TAKEN.clear()
        worker = Worker(queue.queues, connection=queue.queue.connection)
        worker.LONG_JOB_PATIENCE = 0.1  # five processing jobs of 20 ms: a burst, linked first
        worker.work(burst=True, with_scheduler=False, logging_level=None)
        long_jobs = [TAKEN.index(subject) for subject in ("exp_0", "exp_1", "ws_check")]
        assert len(TAKEN) == 43 and long_jobs[0] >= 5
        assert long_jobs[-1] < TAKEN.index("ws_39")  # not starved until processing ran out
        # a tenth of the time (jobs alike): nine others before the second, 18 before the
        # third, give or take the one the shares' decay (by the real clock) may tip
        for number, index in enumerate(long_jobs):
            assert index - number >= 9 * number - 1, TAKEN
    finally:
        queue.close()
        for rq_queue in queue.queues:
            forget_queue(rq_queue)


def test_with_redis_down_each_failure_is_said_once_a_minute(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests keep noting wake-ups while Redis is down: the sender's every send fails,
    and so do exports and deliveries asked for meanwhile. With the logging every process
    configures, each kind is one line a minute, counting what it left out."""
    now = [0.0]
    monkeypatch.setattr(queue_log, "filters", [
        RepeatedLines(OUTAGE_LINES[queue_log.name].marker, clock=lambda: now[0])])
    queue = RqJobQueue(Redis.from_url("redis://127.0.0.1:1/0"), "jobs.process",
                       "jobs.export", "jobs.deliver", queue_name="test-down")
    try:
        for n in range(50):
            queue.request_processing([f"ws_{n}"])
            queue.flush()
            queue.enqueue_export("exp_1")
        said = [r.getMessage() for r in caplog.records if r.name == queue_log.name]
        assert said == ["could not enqueue processing (ConnectionError); upkeep will retry",
                        "could not enqueue an export (ConnectionError); upkeep will retry"]
        now[0] = 61.0
        queue.enqueue_processing(["ws_late"])
        last = caplog.records[-1]
        assert last.getMessage().startswith("could not enqueue processing")
        assert last.held_back == 49  # type: ignore[attr-defined]
    finally:
        queue.close()
