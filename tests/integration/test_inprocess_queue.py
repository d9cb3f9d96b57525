"""The embedded profile's in-process queue, run by its real worker thread."""

from __future__ import annotations

from adapters.inprocess.job_queue import EXPORT, PROCESS, InProcessJobQueue


def test_processing_runs_before_exports_queued_earlier() -> None:
    """As RQ does with its two queues: exports never hold back the linking of events."""
    queue = InProcessJobQueue(upkeep_interval=3600)
    for number in range(3):
        queue.enqueue_export(f"exp_{number}")
    queue.enqueue_processing(["ws_late"])
    ran: list[str] = []
    queue.start({PROCESS: ran.append, EXPORT: ran.append}, upkeep=lambda: None)
    try:
        assert queue.wait_idle(timeout=5)
    finally:
        queue.stop()
    assert ran == ["ws_late", "exp_0", "exp_1", "exp_2"]
