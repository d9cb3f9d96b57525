"""``auditrail worker``: an RQ worker plus a periodic upkeep thread."""

from __future__ import annotations

import logging
import threading

from prometheus_client import start_http_server
from rq import SimpleWorker

from entrypoints.container import Container
from entrypoints.worker import jobs

log = logging.getLogger(__name__)

UPKEEP_INTERVAL_SECONDS = 15.0


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
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_upkeep_loop, args=(stop,), name="auditrail-upkeep",
                         daemon=True).start()
    else:
        jobs.upkeep()
    worker = SimpleWorker(queue.queues, connection=container.redis())  # processing first
    try:
        # No logging_level: RQ would set its logger to ours, and write three lines a job
        # at INFO; configure_logging keeps it at WARNING.
        return worker.work(burst=burst, with_scheduler=False, logging_level=None)
    finally:
        stop.set()


def _upkeep_loop(stop: threading.Event) -> None:
    """Upkeep at start (recover what a crash left behind), then every interval."""
    while True:
        try:
            jobs.upkeep()
        except Exception as exc:
            log.warning("upkeep failed (%s); retrying in %ss", type(exc).__name__,
                        UPKEEP_INTERVAL_SECONDS)
        if stop.wait(UPKEEP_INTERVAL_SECONDS):
            return
