"""The chain under real concurrency and real crashes: PostgreSQL + Redis + worker processes."""

from __future__ import annotations

import json
import signal
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis

from tests.integration.processes import (
    environment,
    start,
    start_servers,
    start_workers,
    stop,
    wait_for,
)
from tests.integration.stacks import Stack, production_stack

EVENT = {"action": "user.login", "actor": {"id": "u1", "type": "user"}}


@pytest.fixture
def shared(postgres_url: str, redis_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    stack = production_stack(postgres_url, redis_url)  # closing it forgets the queue's keys
    queue = stack.settings.queue_name
    env = environment(database_url=postgres_url, redis_url=redis_url, queue_name=queue,
                      requeue_after_seconds="1", data_dir=str(tmp_path / "var"))
    yield stack, env, queue
    stack.close()


def chain_state(stack: Stack, workspace_id: str) -> tuple[int, int, int, int, int]:
    """(pending, processed, min sequence, max sequence, distinct sequences)."""
    [row] = stack.sql(
        "SELECT count(*) FILTER (WHERE status = 'pending'), "
        "count(*) FILTER (WHERE status = 'processed'), min(sequence), max(sequence), "
        "count(DISTINCT sequence) FROM events WHERE workspace_id = :w", w=workspace_id)
    return tuple(row)


def post_batch(base: str, key: str, size: int) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/events/batch", data=json.dumps({"events": [EVENT] * size}).encode(),
        method="POST", headers={"Authorization": f"Bearer {key}",
                                "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def test_four_workers_and_two_servers_keep_one_unbroken_chain(shared, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack, env, _ = shared
    workspace_id, key = stack.new_workspace()
    servers = start_servers(2, env, tmp_path, "--workers", "1")
    workers = start_workers(4, env, tmp_path)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            statuses = list(pool.map(lambda i: post_batch(servers[i % 2][1], key, 25),
                                     range(60)))
        assert statuses == [202] * 60
        assert wait_for(lambda: chain_state(stack, workspace_id)[0] == 0, timeout=60)
    finally:
        codes = [stop(worker) for worker in workers] + [stop(s) for s, _ in servers]
    assert chain_state(stack, workspace_id) == (0, 1500, 1, 1500, 1500)
    report = stack.container.verify_chain().execute(workspace_id)
    assert report.valid and report.checked == 1500
    assert codes == [0] * 6, [p.read_text()[-2000:] for p in tmp_path.glob("*.log")]


def test_killed_worker_and_flushed_queue_lose_nothing(shared, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stack, env, queue = shared
    workspace_id, _ = stack.new_workspace()
    ingest = stack.container.ingest_events()
    for _ in range(12):  # a drain of several jobs (20 chunks of 500 each), killed in the first
        ingest.execute(workspace_id, [EVENT] * 1000, batch=True)

    worker = start("worker", env=env, log=tmp_path / "doomed.log")
    assert wait_for(lambda: chain_state(stack, workspace_id)[1] > 0, timeout=60)
    worker.send_signal(signal.SIGKILL)  # mid-drain: its open chunk must roll back
    worker.wait(10)
    pending, *_ = chain_state(stack, workspace_id)
    assert pending > 0, "the worker finished before it could be killed; raise the load"

    client = redis.Redis.from_url(stack.settings.redis_url)
    for name in client.scan_iter(f"*{queue}*"):  # Redis "flushed": every job and marker gone
        client.delete(name)

    survivor = start("worker", env=env, log=tmp_path / "survivor.log")
    try:
        assert wait_for(lambda: chain_state(stack, workspace_id)[0] == 0, timeout=120)
    finally:
        assert stop(survivor) == 0
    assert chain_state(stack, workspace_id) == (0, 12_000, 1, 12_000, 12_000)
    assert stack.container.verify_chain().execute(workspace_id).valid
