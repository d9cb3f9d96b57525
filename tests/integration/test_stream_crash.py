"""A worker SIGKILLed while a delivery is on the wire: the delivery is sent again - the same
id, number and body - once its lease runs out, and nothing is lost or reordered."""

from __future__ import annotations

import signal
import threading
import uuid
from pathlib import Path

from adapters.sql.engine import build_engine
from adapters.sql.migrate import upgrade
from tests.integration.processes import environment, start, stop, wait_for
from tests.integration.stacks import bearer, production_stack
from tests.receivers import Answer, Received, receiver

EVENTS = 1_200


def test_a_worker_killed_mid_delivery_is_redelivered_in_order(
        empty_postgres: str, redis_url: str, tmp_path: Path) -> None:
    """On a database of its own, so that upkeep wakes no other test's streams."""
    engine = build_engine(empty_postgres)
    upgrade(engine)
    engine.dispose()
    queue = f"auditrail-test-crash-{uuid.uuid4().hex[:8]}"
    settings = {"queue_name": queue, "allow_private_destinations": True,
                "delivery_timeout_seconds": 2, "stream_batch_seconds": 0.0}
    stack = production_stack(empty_postgres, redis_url, data_dir=tmp_path / "var", **settings)
    env = environment(database_url=empty_postgres, redis_url=redis_url,
                      data_dir=str(tmp_path / "var"),
                      **{name: str(value) for name, value in settings.items()
                         if name != "allow_private_destinations"},
                      allow_private_destinations="1")
    on_the_wire = threading.Event()
    release = threading.Event()

    def hang_the_first(request: Received) -> Answer:
        if not on_the_wire.is_set():
            on_the_wire.set()
            release.wait(30)  # the worker dies while waiting for this answer
        return Answer(200)

    try:
        with receiver(hang_the_first) as hook:
            _, key = stack.new_workspace()
            created = stack.client.post("/api/v1/streams", headers=bearer(key), json={
                "name": "SIEM", "type": "webhook", "config": {"url": hook.url}})
            assert created.status_code == 201, created.json
            for _ in range(EVENTS // 600):
                stack.client.post("/api/v1/events/batch", headers=bearer(key), json={
                    "events": [{"action": "user.login", "actor": {"id": "u", "type": "user"}}]
                    * 600})
            stack.container.job_queue().flush()

            doomed = start("worker", env=env, log=tmp_path / "doomed.log")
            assert on_the_wire.wait(60), (tmp_path / "doomed.log").read_text()
            doomed.send_signal(signal.SIGKILL)
            doomed.wait(10)
            release.set()
            killed = hook.requests[0].json()

            survivor = start("worker", env=env, log=tmp_path / "survivor.log")
            try:
                # the lease (2 x 2 s + 10 s) runs out, then upkeep (every 15 s) wakes it
                assert wait_for(lambda: sum(len(body["events"]) for body in
                                            deduplicated(hook.bodies())) >= EVENTS,
                                timeout=90), (tmp_path / "survivor.log").read_text()
            finally:
                assert stop(survivor) == 0
            received = hook.bodies()
    finally:
        stack.close()
    # The receiver answered the killed attempt too (the worker never read the answer), so
    # it got delivery 1 twice, byte for byte: it drops the second by its delivery_id.
    again = [body for body in received if body["delivery_id"] == killed["delivery_id"]]
    assert again == [killed, killed]
    accepted = deduplicated(received)
    assert [event["sequence"] for body in accepted for event in body["events"]] == \
        list(range(1, EVENTS + 1))  # nothing lost, nothing twice, in order
    assert [body["sequence"] for body in accepted] == list(range(1, len(accepted) + 1))


def deduplicated(bodies: list[dict]) -> list[dict]:
    """What a receiver keeps: the first copy of each delivery."""
    kept: dict[str, dict] = {}
    for body in bodies:
        kept.setdefault(body["delivery_id"], body)
    return list(kept.values())
