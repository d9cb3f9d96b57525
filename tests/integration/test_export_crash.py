"""A worker killed mid-export leaves the export retryable and no partial file behind."""

from __future__ import annotations

import signal
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.sql.engine import build_engine
from adapters.sql.migrate import upgrade
from tests.fakes import FakeClock
from tests.integration.processes import environment, start, stop, wait_for
from tests.integration.stacks import bearer, production_stack


def test_killed_export_is_retried_and_leaves_no_partial(empty_postgres: str, redis_url: str,
                                                        tmp_path: Path) -> None:
    """On a database of its own: upkeep rightly retries every stale export it finds, and
    in the shared one those of other tests (left queued or running) ran here too."""
    postgres_url = empty_postgres
    engine = build_engine(postgres_url)
    upgrade(engine)
    engine.dispose()
    queue = f"auditrail-crash-{uuid.uuid4().hex[:8]}"
    data_dir = tmp_path / "var"
    stack = production_stack(postgres_url, redis_url, queue_name=queue, data_dir=data_dir)
    env = environment(database_url=postgres_url, redis_url=redis_url, queue_name=queue,
                      data_dir=str(data_dir))
    try:
        workspace_id, secret = stack.new_workspace()
        ingest = stack.container.ingest_events()
        for _ in range(15):  # large rows: an export long enough to be caught, few to link
            ingest.execute(workspace_id, [{"action": "user.login",
                                           "actor": {"id": "u", "type": "user"},
                                           "metadata": {"pad": "x" * 1500}}] * 1000,
                           batch=True)
        stack.drain()
        export_id = stack.client.post("/api/v1/exports", headers=bearer(secret),
                                      json={"format": "csv"}).json["id"]

        def status() -> str:
            return stack.client.get(f"/api/v1/exports/{export_id}",
                                    headers=bearer(secret)).json["status"]

        def partials() -> list[Path]:
            return list(data_dir.rglob(".partial-*"))

        doomed = start("worker", env=env, log=tmp_path / "doomed.log")
        assert wait_for(lambda: status() == "running" and partials(), timeout=60,
                        interval=0.02)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        assert status() == "running"  # nobody will finish it: its heartbeat has stopped

        later = FakeClock(datetime.now(UTC) + timedelta(minutes=2))
        with stack.container.clock.override(later):
            assert stack.container.export_upkeep().execute().retried == 1
        assert status() == "queued"

        survivor = start("worker", env=env, log=tmp_path / "survivor.log")
        try:
            assert wait_for(lambda: status() == "completed", timeout=120)
        finally:
            assert stop(survivor) == 0
        done = stack.client.get(f"/api/v1/exports/{export_id}", headers=bearer(secret)).json
        assert done["row_count"] == 15_000
        assert partials() == []
        files = [p for p in data_dir.rglob("*") if p.is_file() and "exports" in p.parts]
        assert [p.name for p in files] == [f"{export_id}.csv"]
        assert files[0].stat().st_size == done["size_bytes"]
    finally:
        stack.close()
