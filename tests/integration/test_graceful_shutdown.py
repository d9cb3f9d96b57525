"""SIGTERM during a load: in-flight requests finish, the worker finishes its chunk, and
afterwards every accepted event is in one unbroken chain, linked exactly once."""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from tests.integration.processes import (
    environment,
    start_server,
    start_workers,
    stop,
    wait_for,
)
from tests.integration.stacks import bearer, production_stack

EVENT = {"action": "user.login", "actor": {"id": "u", "type": "user"}}


def test_sigterm_loses_and_duplicates_nothing(postgres_url: str, redis_url: str,
                                              tmp_path: Path) -> None:
    queue = f"auditrail-term-{uuid.uuid4().hex[:8]}"
    stack = production_stack(postgres_url, redis_url, queue_name=queue)
    workspace_id, key = stack.new_workspace()
    env = environment(database_url=postgres_url, redis_url=redis_url, queue_name=queue,
                      data_dir=str(tmp_path / "var"))
    server, base = start_server(env, tmp_path / "serve.log", "--workers", "2")
    [worker] = start_workers(1, env, tmp_path)  # listening before the load starts
    accepted: list[str] = []
    stop_load = threading.Event()

    def load() -> None:
        while not stop_load.is_set():
            request = urllib.request.Request(
                f"{base}/api/v1/events/batch", method="POST",
                data=json.dumps({"events": [EVENT] * 200}).encode(),
                headers={**bearer(key), "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    accepted.extend(json.loads(response.read())["ids"])
            except (urllib.error.URLError, ConnectionError, OSError):
                return  # the server is going away: this request was not accepted

    clients = [threading.Thread(target=load) for _ in range(4)]
    try:
        for client in clients:
            client.start()
        assert wait_for(lambda: stack.sql(  # the worker is up and mid-drain
            "SELECT count(*) FROM events WHERE workspace_id = :w AND status = 'processed'",
            w=workspace_id)[0][0] > 0, timeout=60, interval=0.05)
        time.sleep(0.3)
        worker.send_signal(signal.SIGTERM)
        server.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0 and server.wait(60) == 0  # both stopped gracefully
    finally:
        stop_load.set()
        for client in clients:
            client.join(30)
        stop(server)
        stop(worker)
    assert len(accepted) >= 200
    lines = [json.loads(line) for line in (tmp_path / "worker0.log").read_text().splitlines()]
    queues = f"{queue},{queue}-deliveries,{queue}-exports"  # the order it takes jobs in
    assert [(line["message"], line["queues"]) for line in lines
            if line["logger"] == "entrypoints.worker.rq_worker"] == [
        ("worker started", queues), ("worker stopped", queues)]
    (tmp_path / "after").mkdir()

    [survivor] = start_workers(1, env, tmp_path / "after")
    try:
        assert wait_for(lambda: stack.sql(
            "SELECT count(*) FROM events WHERE workspace_id = :w AND status = 'pending'",
            w=workspace_id)[0][0] == 0, timeout=120)
    finally:
        assert stop(survivor) == 0
    [(count, low, high, distinct)] = stack.sql(
        "SELECT count(*), min(sequence), max(sequence), count(DISTINCT sequence) "
        "FROM events WHERE workspace_id = :w", w=workspace_id)
    stored = {row[0] for row in stack.sql("SELECT id FROM events WHERE workspace_id = :w",
                                          w=workspace_id)}
    assert set(accepted) <= stored  # every 202 is kept
    assert (low, high, distinct) == (1, count, count)
    assert stack.container.verify_chain().execute(workspace_id).valid
    stack.close()


def test_a_worker_stops_within_seconds_when_its_command_thread_is_waiting(
        redis_url: str) -> None:
    """The race behind workers that took a minute to stop after SIGTERM, forced: RQ's
    command thread has read its unsubscribe reply and waits (60 s) for a subscription
    when the worker stops it."""
    from redis import Redis
    from rq import Queue

    from entrypoints.worker.rq_worker import Worker

    connection = Redis.from_url(redis_url)
    worker = Worker([Queue(f"auditrail-stop-{uuid.uuid4().hex[:8]}",
                           connection=connection)], connection=connection)
    worker.subscribe()
    worker.pubsub.unsubscribe()
    assert wait_for(lambda: not worker.pubsub.subscribed, timeout=5)
    time.sleep(0.2)  # the thread is back in get_message, waiting
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    started = time.monotonic()
    stopping.start()
    stopping.join(timeout=10)
    assert not stopping.is_alive() and time.monotonic() - started < 5
    connection.close()
