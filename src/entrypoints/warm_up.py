"""Ready a server process before its first request.

The engine is built lazily, and building it imports the database driver and the dialect:
about 100 ms that the first request of every new worker process would otherwise wait for
(after a deploy, a restart or a crashed worker). ``warm_up`` pays it while the process
starts, together with the pool's first connection and the rate-limit script.

Under ``gunicorn --preload`` this runs once, before the workers are forked. A forked
process must never use its parent's database connections (two processes on one socket),
so each child starts with an empty pool, as SQLAlchemy advises: ``dispose(close=False)``
after the fork. Redis connections are checked by process id: the pool's by redis-py,
the rate limiter's per-thread ones by the limiter.
"""

from __future__ import annotations

import logging
import os
import weakref

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from entrypoints.container.installation import Container
from entrypoints.settings import EMBEDDED

log = logging.getLogger(__name__)

_WARMED: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Engines a fork must not share; weak, so a discarded container's engine is not kept."""


def _empty_pools_after_fork() -> None:
    for engine in list(_WARMED):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_empty_pools_after_fork)


def warm_up(container: Container) -> None:
    """Best effort: a database or Redis that is down now must not stop the process from
    serving (``/readyz`` says so, and the first request that needs it tries again)."""
    engine = container.engine()
    _WARMED.add(engine)
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        log.warning("database not reachable at start (%s); requests will retry",
                    type(exc).__name__)
    container.admit_request()
    container.ingest_events()
    if container.settings().profile != EMBEDDED:
        container.rate_limiter().prepare()
