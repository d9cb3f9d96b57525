"""Alerts under real concurrency and real crashes: PostgreSQL + Redis + worker processes.

Evaluation is exact: four workers and two servers under concurrent ingest trigger the
alerts a single pass over the same chain, in sequence order, triggers - and a worker
killed between evaluation and notification leaves one alert, notified.
"""

from __future__ import annotations

import json
import random
import signal
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from adapters.sql.engine import build_engine
from adapters.sql.migrate import upgrade
from domain.alert_evaluation import RuleIndex, evaluate
from domain.timestamps import format_timestamp
from tests.integration.processes import (
    environment,
    start,
    start_servers,
    start_workers,
    stop,
    wait_for,
)
from tests.integration.stacks import Stack, bearer, production_stack
from tests.receivers import Answer, Received, receiver

RULES = [
    {"name": "every admin action", "match": {"actions": ["admin.*"]}},
    {"name": "brute force by actor", "match": {"actions": ["user.login_failed"]},
     "threshold": {"count": 3, "window_seconds": 60, "group_by": "actor_id"}},
    {"name": "noisy address, then quiet", "match": {"actions": ["user.*"]},
     "threshold": {"count": 4, "window_seconds": 30, "group_by": "ip_address"},
     "cooldown_seconds": 45},
    {"name": "busy workspace", "match": {"actions": ["user.login_failed", "admin.*"]},
     "threshold": {"count": 10, "window_seconds": 20, "group_by": "workspace"},
     "cooldown_seconds": 15},
]


def random_events(count: int, seed: int) -> list[dict[str, Any]]:
    """Out of order by occurred_at, several actors and addresses. Few admin actions: each
    is an alert of its own, and one rule's notifications go out one at a time."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    return [{"action": rng.choices(["user.login_failed", "user.login", "admin.user.delete"],
                                   weights=[10, 5, 1])[0],
             "actor": {"id": f"usr_{rng.randrange(5)}", "type": "user"},
             "occurred_at": format_timestamp(start + timedelta(seconds=rng.randrange(600))),
             "context": {"ip_address": f"198.51.100.{rng.randrange(3)}"}}
            for _ in range(count)]


def post(base: str, key: str, events: list[dict[str, Any]]) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/events/batch", data=json.dumps({"events": events}).encode(),
        method="POST", headers={"Authorization": f"Bearer {key}",
                                "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def single_pass(stack: Stack, workspace_id: str) -> list[tuple[str, str, list[str]]]:
    """The alerts one pass over the stored chain, in sequence order, triggers."""
    with stack.container.uow(read_only=True) as uow:
        rules = uow.alert_rules.enabled(workspace_id)
        chain = list(uow.events.iter_chain(workspace_id, 1, None, 1000))
    outcome = evaluate(RuleIndex(rules).matches(chain), {})
    return [(t.rule.id, t.group_key, [event_id for _, event_id, _ in t.events])
            for t in outcome.triggers]


def triggered(stack: Stack, workspace_id: str, key: str) -> list[tuple[str, str, list[str]]]:
    """The alerts stored, in the order one pass would trigger them: by the event that
    triggered each, then by rule (as the rules are evaluated: oldest first)."""
    rows = stack.sql("SELECT rule_id, group_key, event_ids, trigger_sequence FROM alerts "
                     "WHERE workspace_id = :w ORDER BY trigger_sequence, rule_id",
                     w=workspace_id)
    by_rule_order = {rule["id"]: n for n, rule in enumerate(
        stack.client.get("/api/v1/alert-rules?order=asc", headers=bearer(key))
        .json["data"])}
    rows.sort(key=lambda row: (row[3], by_rule_order[row[0]]))
    return [(rule_id, key, list(ids if isinstance(ids, list) else json.loads(ids)))
            for rule_id, key, ids, _ in rows]


def test_four_workers_and_two_servers_trigger_as_one_pass_over_the_chain(
        postgres_url: str, redis_url: str, tmp_path: Path) -> None:
    stack = production_stack(postgres_url, redis_url, allow_private_destinations=True)
    env = environment(database_url=postgres_url, redis_url=redis_url,
                      queue_name=stack.settings.queue_name, data_dir=str(tmp_path / "var"),
                      allow_private_destinations="1")
    try:
        with receiver() as hook:
            workspace_id, key = stack.new_workspace()
            for rule in RULES:
                response = stack.client.post("/api/v1/alert-rules", headers=bearer(key),
                                             json={**rule, "notify": {"webhook_url": hook.url}})
                assert response.status_code == 201, response.json
            servers = start_servers(2, env, tmp_path, "--workers", "1")
            workers = start_workers(4, env, tmp_path)
            events = random_events(1500, seed=7)
            try:
                with ThreadPoolExecutor(max_workers=6) as pool:
                    statuses = list(pool.map(
                        lambda i: post(servers[i % 2][1], key, events[i * 25:(i + 1) * 25]),
                        range(60)))
                assert statuses == [202] * 60
                assert wait_for(lambda: stack.sql(
                    "SELECT count(*) FROM events WHERE workspace_id = :w AND status = "
                    "'processed'", w=workspace_id)[0][0] == 1500, timeout=90)
                alerts = triggered(stack, workspace_id, key)
                assert wait_for(lambda: hook.events_accepted >= sum(
                    len(ids) for _, _, ids in alerts), timeout=60)
            finally:
                codes = [stop(w) for w in workers] + [stop(s) for s, _ in servers]
        assert codes == [0] * 6, [p.read_text()[-2000:] for p in tmp_path.glob("*.log")]
        assert len(alerts) > 20 and {rule for rule, _, _ in alerts} == {
            rule["id"] for rule in stack.client.get("/api/v1/alert-rules",
                                                    headers=bearer(key)).json["data"]}
        assert alerts == single_pass(stack, workspace_id)
        notified = [json.loads(request.body)["alert"]["id"] for request in hook.requests]
        assert len(notified) == len(set(notified)) == len(alerts)  # each once
    finally:
        stack.close()


def test_a_worker_killed_between_evaluation_and_notification_leaves_one_alert_notified(
        empty_postgres: str, redis_url: str, tmp_path: Path) -> None:
    """On a database of its own, so that upkeep wakes no other test's rules."""
    engine = build_engine(empty_postgres)
    upgrade(engine)
    engine.dispose()
    queue = f"auditrail-test-alertcrash-{uuid.uuid4().hex[:8]}"
    stack = production_stack(empty_postgres, redis_url, queue_name=queue,
                             allow_private_destinations=True, data_dir=tmp_path / "var")
    env = environment(database_url=empty_postgres, redis_url=redis_url, queue_name=queue,
                      data_dir=str(tmp_path / "var"), allow_private_destinations="1",
                      delivery_timeout_seconds="2")
    on_the_wire, release = threading.Event(), threading.Event()

    def hang_the_first(_: Received) -> Answer:
        if not on_the_wire.is_set():
            on_the_wire.set()
            release.wait(30)
        return Answer(204)

    try:
        with receiver(hang_the_first) as hook:
            _, key = stack.new_workspace()
            stack.client.post("/api/v1/alert-rules", headers=bearer(key), json={
                "name": "any admin action", "match": {"actions": ["admin.*"]},
                "notify": {"webhook_url": hook.url}})
            stack.client.post("/api/v1/events", headers=bearer(key), json={
                "action": "admin.user.delete", "actor": {"id": "usr_1", "type": "user"}})
            stack.container.job_queue().flush()
            doomed = start("worker", env=env, log=tmp_path / "doomed.log")
            assert on_the_wire.wait(60), (tmp_path / "doomed.log").read_text()
            doomed.send_signal(signal.SIGKILL)  # evaluated and committed; not yet notified
            doomed.wait(10)
            release.set()
            survivor = start("worker", env=env, log=tmp_path / "survivor.log")
            try:
                assert wait_for(lambda: stack.sql("SELECT status FROM alerts")[0][0] ==
                                "delivered", timeout=90), \
                    (tmp_path / "survivor.log").read_text()
            finally:
                assert stop(survivor) == 0
            [(alert_id, attempts)] = stack.sql("SELECT id, attempts FROM alerts")
            bodies = [json.loads(request.body) for request in hook.requests]
    finally:
        stack.close()
    assert attempts == 1  # the killed attempt was never recorded
    assert [body["alert"]["id"] for body in bodies] == [alert_id, alert_id]
    assert bodies[0] == bodies[1]  # sent again as it was
