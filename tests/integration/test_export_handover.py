"""An export run that upkeep gave to another run (it fell silent for a minute: a frozen
process) must not finish it, and a healthy run must not fall silent while the database
sorts its rows."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO

import pytest
from dependency_injector import providers

from adapters.files.blob_store import FolderBlobStore
from domain.exports import Export
from tests.fakes import FakeClock
from tests.integration.stacks import Stack, bearer

EVENT = {"action": "user.login", "actor": {"id": "u1", "type": "user"}}


class _Hooked:
    """A file handle that runs ``hook`` once, at the first write."""

    def __init__(self, handle: BinaryIO, hook: Callable[[], None]) -> None:
        self._handle, self._hook = handle, hook

    def write(self, data: bytes) -> int:
        hook, self._hook = self._hook, lambda: None
        hook()
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


class HookedBlobStore(FolderBlobStore):
    """The real folder store; the first writer opened runs ``hook`` at its first write."""

    hook: Callable[[], None] | None = None

    @contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        hook, self.hook = self.hook, None
        with super().writer(key) as handle:
            yield _Hooked(handle, hook) if hook else handle  # type: ignore[misc]


def hooked(stack: Stack) -> HookedBlobStore:
    blobs = HookedBlobStore(stack.settings.exports_dir)
    stack.container.blob_store.override(providers.Object(blobs))
    return blobs


def queued_export(stack: Stack) -> tuple[str, str]:
    """Runs are started by the test alone: no worker thread or process is running."""
    workspace_id, secret = stack.new_workspace()
    stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                      json={"events": [EVENT] * 20})
    stack.container.process_pending_events().execute(workspace_id)
    response = stack.client.post("/api/v1/exports", headers=bearer(secret),
                                 json={"format": "ndjson"})
    return secret, response.json["id"]


def record(stack: Stack, export_id: str) -> Export:
    with stack.container.uow(read_only=True) as uow:
        export = uow.exports.find(export_id)
    assert export is not None
    return export


def handover_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The exports named by warnings, which must all be about a handover."""
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert all("was handed to another run" in r.getMessage() for r in warnings), warnings
    return [str(r.args[0]) for r in warnings]  # type: ignore[index]


def silence_passes(stack: Stack, export_id: str) -> None:
    """Upkeep two minutes later finds the run silent and queues the export again."""
    later = FakeClock(datetime.now(UTC) + timedelta(minutes=2))
    with stack.container.clock.override(later):
        assert stack.container.export_upkeep().execute().retried >= 1
    assert record(stack, export_id).status == "queued"


def test_a_run_handed_over_mid_file_leaves_the_new_run_alone(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """While the first run writes, upkeep hands the export over and a second run starts;
    the first run, resuming, must neither finish the export nor put its file in place."""
    blobs = hooked(stack)
    _, export_id = queued_export(stack)
    run = stack.container.run_export()

    def handed_over() -> None:
        silence_passes(stack, export_id)
        with stack.container.uow() as uow:  # the second worker takes it
            export = uow.exports.lock(export_id)
            uow.exports.update(export.start(datetime.now(UTC)))
            uow.commit()

    blobs.hook = handed_over
    assert run.execute(export_id) is None
    after = record(stack, export_id)
    assert (after.status, after.attempts) == ("running", 2)  # the second run's
    assert not list(stack.settings.exports_dir.rglob(f"{export_id}*"))
    assert handover_warnings(caplog) == [export_id]  # and no "failed"
    stack.sql("DELETE FROM exports WHERE id = :id", id=export_id)  # nobody will finish it


def test_a_run_handed_over_stops_quietly_when_the_new_run_finished_first(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    blobs = hooked(stack)
    secret, export_id = queued_export(stack)

    def handed_over_and_done() -> None:
        silence_passes(stack, export_id)
        assert stack.container.run_export().execute(export_id).status == "completed"

    blobs.hook = handed_over_and_done
    assert stack.container.run_export().execute(export_id) is None
    after = record(stack, export_id)
    assert (after.status, after.attempts) == ("completed", 2)
    (path,) = stack.settings.exports_dir.rglob(f"{export_id}*")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == after.sha256
    assert handover_warnings(caplog) == [export_id]  # and no "failed"
    download = stack.client.get(f"/api/v1/exports/{export_id}/download",
                                headers=bearer(secret))
    assert download.status_code == 302


def test_a_run_beats_while_it_waits_for_rows(stack: Stack) -> None:
    """The heartbeat does not depend on rows arriving: a slow first row is not silence."""
    blobs = hooked(stack)
    _, export_id = queued_export(stack)
    stack.container.run_export.add_kwargs(heartbeat=timedelta(seconds=0.05))
    seen: list[Export] = []

    def slow() -> None:
        time.sleep(0.5)
        seen.append(record(stack, export_id))

    blobs.hook = slow
    assert stack.container.run_export().execute(export_id).status == "completed"
    (during,) = seen
    assert during.status == "running" and during.started_at and during.heartbeat_at
    assert during.heartbeat_at - during.started_at >= timedelta(seconds=0.3)
