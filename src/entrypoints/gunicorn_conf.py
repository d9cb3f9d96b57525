"""gunicorn settings: ``auditrail serve`` runs gunicorn in its own process with
``PRODUCTION`` (or, embedded, ``SHARED``), and the witness with a few of them."""

from __future__ import annotations

from typing import Any

worker_class = "entrypoints.gunicorn_worker.ThreadWorker"  # gthread, errors in our shape
logger_class = "entrypoints.gunicorn_logger.JsonLogger"
threads = 8
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = None
control_socket_disable = True
reuse_port = True
"""Each worker binds the port itself (SO_REUSEPORT): a ``serve`` restarted right after its
master died takes the port at once, beside orphaned workers still finishing their
requests."""

SHARED = {"worker_class": worker_class, "logger_class": logger_class, "threads": threads,
          "timeout": timeout, "graceful_timeout": graceful_timeout, "keepalive": keepalive,
          "accesslog": accesslog, "control_socket_disable": control_socket_disable}
"""The settings the embedded server uses as well (it runs gunicorn in-process)."""


def child_exit(server: Any, worker: Any) -> None:
    """Fold a finished worker's counters into the totals of the live ones."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


PRODUCTION = {**SHARED, "reuse_port": reuse_port, "child_exit": child_exit}
"""What ``auditrail serve`` runs gunicorn with in the production profile."""
