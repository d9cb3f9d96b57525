"""The embedded profile's in-process queue, run by its real worker thread."""

from __future__ import annotations

import logging
import time

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


def test_exports_take_turns_once_linking_had_its_patience() -> None:
    """Events arriving faster than they are linked kept an export waiting until they
    stopped; past the queue's patience it takes a tenth of the thread's time."""
    queue = InProcessJobQueue(upkeep_interval=3600, export_patience=0.1)
    queue.enqueue_export("exp_0")
    queue.enqueue_export("exp_1")
    queue.enqueue_processing([f"ws_{n}" for n in range(30)])
    ran: list[str] = []

    def run(subject: str) -> None:
        ran.append(subject)
        time.sleep(0.02)
    queue.start({PROCESS: run, EXPORT: run}, upkeep=lambda: None)
    try:
        assert queue.wait_idle(timeout=10)
    finally:
        queue.stop()
    first, second = ran.index("exp_0"), ran.index("exp_1")
    assert len(ran) == 32 and first >= 5  # five jobs of 20 ms: a burst, linked first
    assert second < ran.index("ws_29")  # not starved until linking ran out
    assert second >= 9, ran  # a tenth: some nine other jobs before the second


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
