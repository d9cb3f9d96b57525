"""Enqueue de-duplicated "process workspace W" jobs on RQ."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

log = logging.getLogger(__name__)

WAKE_TTL_SECONDS = 600


class RqJobQueue:
    """One job per workspace while a job is waiting, however many events arrive meanwhile.

    A ``SET NX`` marker says "a job for W is queued". The job deletes it (``claim``) before
    it reads pending events, so an event committed after that read always finds the marker
    gone and queues a fresh job: nothing is left behind, and nothing is queued twice.
    """

    def __init__(self, redis: Redis, job_path: str, export_job_path: str,
                 queue_name: str = "auditrail", job_timeout: int = 600,
                 export_timeout: int = 6 * 3600) -> None:
        self._redis = redis
        self._queue = Queue(queue_name, connection=redis)
        self._job_path = job_path
        self._export_job_path = export_job_path
        self._export_timeout = export_timeout
        self._prefix = f"{queue_name}:wake:"
        self._job_timeout = job_timeout

    @property
    def queue(self) -> Queue:
        return self._queue

    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        try:
            for workspace_id in workspace_ids:
                marked = self._redis.set(self._prefix + workspace_id, 1, nx=not force,
                                         ex=WAKE_TTL_SECONDS)
                if marked:
                    self._enqueue(self._job_path, workspace_id, self._job_timeout)
        except RedisError as exc:
            # The events are already committed; upkeep re-queues them once Redis is back.
            log.warning("could not enqueue processing (%s); upkeep will retry",
                        type(exc).__name__)

    def enqueue_export(self, export_id: str) -> None:
        try:
            self._enqueue(self._export_job_path, export_id, self._export_timeout)
        except RedisError as exc:
            log.warning("could not enqueue an export (%s); upkeep will retry",
                        type(exc).__name__)

    def _enqueue(self, path: str, argument: str, timeout: int) -> None:
        """Ids only, never objects; results are not kept (the database has them)."""
        self._queue.enqueue(path, argument, job_timeout=timeout, result_ttl=0,
                            failure_ttl=86_400)

    def claim(self, workspace_id: str) -> None:
        self._redis.delete(self._prefix + workspace_id)

    def depth(self) -> int:
        try:
            return self._queue.count
        except RedisError:
            return 0

    def ping(self) -> bool:
        try:
            return bool(self._redis.ping())
        except RedisError:
            return False
