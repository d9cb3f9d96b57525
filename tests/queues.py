"""Leave Redis as it was found: what a test or a benchmark run put there for its queue."""

from __future__ import annotations

import uuid

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.results import Result

TEST_RUN = uuid.uuid4().hex[:6]
"""Names every queue this test run makes, so the run's end can find what is left of them."""


def throwaway_queue_name() -> str:
    return f"auditrail-test-{TEST_RUN}-{uuid.uuid4().hex[:8]}"


def forget_test_run(connection: Redis) -> None:
    """What a test's queues left after their stacks forgot them: a rate-limit script whose
    client gave up on a loaded machine still runs in Redis, and may recreate its
    credentials-version key after the keys were deleted."""
    for key in connection.scan_iter(f"auditrail-test-{TEST_RUN}-*"):
        connection.delete(key)


def forget_queue(queue: Queue) -> None:
    """A throw-away queue's jobs, wake-up markers and rate limits: every key named after
    it, every job that came from it, including those a killed worker, a "flush" or a
    server stopped before its worker ran left outside any list the queue still knows, with
    the results RQ keeps for them (a failed job's for a year), and its name in RQ's list
    of queues (``rq info`` would show every run's)."""
    queue.delete(delete_jobs=True)
    connection = queue.connection
    for key in connection.scan_iter(Job.key_for("*")):
        if connection.type(key) == b"hash" and connection.hget(key, "origin") == \
                queue.name.encode():
            job_id = key.decode().removeprefix(Job.key_for(""))
            connection.delete(key, Result.get_key(job_id))
    for key in connection.scan_iter(f"*{queue.name}*"):
        connection.delete(key)
