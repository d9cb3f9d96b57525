"""Leave Redis as it was found: what a test or a benchmark run put there for its queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
    names.update(origin.decode() for _, origin in _job_origins(connection))
    for name in sorted(name for name in names if name.startswith(prefix)):
        forget_queue(Queue(name, connection=connection))
    for key in connection.scan_iter(f"{prefix}*", count=1_000):
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
    for key, origin in _job_origins(connection):
        if origin == queue.name.encode():
            job_id = key.decode().removeprefix(Job.key_for(""))
            connection.delete(key, Result.get_key(job_id), f"rq:executions:{job_id}",
                              *connection.scan_iter(f"rq:execution:{job_id}:*", count=1_000))
    for worker in connection.smembers(Worker.redis_workers_keys):
        if queue.name in (connection.hget(worker, "queues") or b"").decode().split(","):
            connection.delete(worker)
            connection.srem(Worker.redis_workers_keys, worker)
    for key in connection.scan_iter(f"*{queue.name}*", count=1_000):
        connection.delete(key)


def _job_origins(connection: Redis, batch: int = 1_000) -> Iterator[tuple[bytes, bytes]]:
    """(key, origin queue) of every RQ job in Redis, a pipelined batch at a time: asked key
    by key, a Redis holding a few thousand jobs of other queues (a developer's, or what a
    benchmark left) cost every production test's teardown a second or more."""
    keys = list(connection.scan_iter(Job.key_for("*"), count=batch))
    for start in range(0, len(keys), batch):
        chunk = keys[start:start + batch]
        pipeline = connection.pipeline(transaction=False)
        for key in chunk:
            pipeline.hget(key, "origin")
        # A job's other keys (its dependents, a set) answer WRONGTYPE: not jobs.
        for key, origin in zip(chunk, pipeline.execute(raise_on_error=False), strict=True):
            if isinstance(origin, bytes):
                yield key, origin

