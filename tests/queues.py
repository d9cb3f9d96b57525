"""Leave Redis as it was found: what a test or a benchmark run put there for its queue."""

from __future__ import annotations

import uuid

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.results import Result
from rq.worker import Worker

TEST_RUN = uuid.uuid4().hex[:6]
"""Names every queue this test run makes, so the run's end can find what is left of them."""


def throwaway_queue_name() -> str:
    return f"auditrail-test-{TEST_RUN}-{uuid.uuid4().hex[:8]}"


def forget_test_run(connection: Redis) -> None:
    """Every queue this run named, whoever used it: servers and workers started as
    processes enqueue into queues no stack forgets (their names are in RQ's list of
    queues, or only on the jobs left behind). Then what a test's queues left after their
    stacks forgot them: a rate-limit script whose client gave up on a loaded machine still
    runs in Redis, and may recreate its credentials-version key after the keys were
    deleted."""
    prefix = f"auditrail-test-{TEST_RUN}-"
    names = {member.decode().removeprefix(Queue.redis_queue_namespace_prefix)
             for member in connection.smembers(Queue.redis_queues_keys)}
    for key in connection.scan_iter(Job.key_for("*")):
        if connection.type(key) == b"hash":
            names.add((connection.hget(key, "origin") or b"").decode())
    for name in sorted(name for name in names if name.startswith(prefix)):
        forget_queue(Queue(name, connection=connection))
    for key in connection.scan_iter(f"{prefix}*"):
        connection.delete(key)


def forget_queue(queue: Queue) -> None:
    """A throw-away queue's jobs, wake-up markers and rate limits: every key named after
    it, every job that came from it, including those a killed worker, a "flush" or a
    server stopped before its worker ran left outside any list the queue still knows, with
    the results RQ keeps for them (a failed job's for a year) and their executions, its
    name in RQ's list of queues (``rq info`` would show every run's), and the
    registrations of workers a test killed while they listened on it (kept for hours)."""
    queue.delete(delete_jobs=True)
    connection = queue.connection
    for key in connection.scan_iter(Job.key_for("*")):
        if connection.type(key) == b"hash" and connection.hget(key, "origin") == \
                queue.name.encode():
            job_id = key.decode().removeprefix(Job.key_for(""))
            connection.delete(key, Result.get_key(job_id), f"rq:executions:{job_id}",
                              *connection.scan_iter(f"rq:execution:{job_id}:*"))
    for worker in connection.smembers(Worker.redis_workers_keys):
        if queue.name in (connection.hget(worker, "queues") or b"").decode().split(","):
            connection.delete(worker)
            connection.srem(Worker.redis_workers_keys, worker)
    for key in connection.scan_iter(f"*{queue.name}*"):
        connection.delete(key)
