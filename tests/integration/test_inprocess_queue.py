"""The embedded profile's in-process queue, run by its real worker thread."""

from __future__ import annotations

import logging

import pytest

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


def test_a_failed_job_is_logged_by_what_it_was_for(caplog: pytest.LogCaptureFixture) -> None:
    """An operator must know which workspace's chain has stopped, not only that one has."""
    def fail(_: str) -> None:
        raise RuntimeError("SELECT … ('event data')")

    queue = InProcessJobQueue(upkeep_interval=3600)
    queue.enqueue_processing(["ws_stuck"])
    queue.enqueue_export("exp_stuck")
    with caplog.at_level(logging.ERROR, logger="adapters.inprocess.job_queue"):
        queue.start({PROCESS: fail, EXPORT: fail}, upkeep=lambda: None)
        try:
            assert queue.wait_idle(timeout=5)
        finally:
            queue.stop()
    named = [(record.job, getattr(record, "workspace_id", None),  # type: ignore[attr-defined]
              getattr(record, "export_id", None)) for record in caplog.records]
    assert named == [("process", "ws_stuck", None), ("export", None, "exp_stuck")]
    assert all("event data" not in record.getMessage() for record in caplog.records)
