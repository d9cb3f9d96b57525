"""A de-duplicating in-process queue of "process workspace W" jobs, drained by one thread."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


class InProcessJobQueue:
    """Embedded stand-in for RQ: same contract, no Redis.

    Work is a set of workspace ids, so a burst of ingests collapses into one drain. Events
    are durable in the database before they get here, so losing this queue on a crash only
    delays processing until the next upkeep.
    """

    def __init__(self, upkeep_interval: float = 15.0) -> None:
        self._upkeep_interval = upkeep_interval
        self._waiting: dict[str, None] = {}
        self._busy = False
        self._stopping = False
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def enqueue_processing(self, workspace_ids: Iterable[str], *, force: bool = False) -> None:
        with self._condition:
            for workspace_id in workspace_ids:
                self._waiting[workspace_id] = None
            self._condition.notify_all()

    def claim(self, workspace_id: str) -> None:
        """Nothing to do: a workspace leaves the waiting set when its drain starts."""

    def ping(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def start(self, process: Callable[[str], None], upkeep: Callable[[], None]) -> None:
        """Start the worker thread; ``process`` drains a workspace, ``upkeep`` runs periodically."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, args=(process, upkeep),
                                        name="auditrail-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current drain, then stop (graceful shutdown)."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is waiting or running (for tests and ``--burst`` runs)."""
        with self._condition:
            return self._condition.wait_for(lambda: not self._waiting and not self._busy,
                                            timeout)

    def _run(self, process: Callable[[str], None], upkeep: Callable[[], None]) -> None:
        next_upkeep = 0.0
        while True:
            if time.monotonic() >= next_upkeep:
                self._guarded(upkeep)
                next_upkeep = time.monotonic() + self._upkeep_interval
            with self._condition:
                self._condition.wait_for(lambda: self._waiting or self._stopping,
                                         max(0.0, next_upkeep - time.monotonic()))
                if self._stopping:
                    return
                if not self._waiting:
                    continue
                workspace_id = next(iter(self._waiting))
                del self._waiting[workspace_id]
                self._busy = True
            self._guarded(functools.partial(process, workspace_id))
            with self._condition:
                self._busy = False
                self._condition.notify_all()

    @staticmethod
    def _guarded(step: Callable[[], object]) -> None:
        try:
            step()
        except Exception:
            log.exception("background job failed; pending events stay pending for upkeep")
