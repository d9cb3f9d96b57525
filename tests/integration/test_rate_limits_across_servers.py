"""Two real server processes on PostgreSQL + Redis share one workspace's budget."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.integration.processes import environment, start_servers, stop
from tests.integration.stacks import bearer, production_stack
from tests.integration.test_observability import sample


def post(base: str, key: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/events", method="POST", headers={**bearer(key),
                                                         "Content-Type": "application/json"},
        data=json.dumps({"action": "user.login", "actor": {"id": "u", "type": "t"}}).encode())
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_two_servers_admit_exactly_the_budget(postgres_url: str, redis_url: str,
                                              tmp_path: Path) -> None:
    stack = production_stack(postgres_url, redis_url)  # closing it forgets the queue's keys
    # 10 a minute: one back every 6 s, which the burst below beats on any machine (with the
    # free plan's 60, one a second, a slow machine's burst could outlast a refill)
    workspace_id, key = stack.new_workspace("shared", plan="enterprise", rate_limit=10)
    env = environment(database_url=postgres_url, redis_url=redis_url,
                      queue_name=stack.settings.queue_name, data_dir=str(tmp_path / "var"))
    servers = start_servers(2, env, tmp_path, "--workers", "1")
    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(lambda i: post(servers[i % 2][1], key), range(40)))
        [(stored,)] = stack.sql("SELECT count(*) FROM events WHERE workspace_id = :w",
                                w=workspace_id)
    finally:
        for server, _ in servers:
            stop(server)
        stack.close()
    assert statuses.count(202) == 10 and statuses.count(429) == 30
    assert stored == 10


def test_api_keeps_serving_when_redis_is_down(postgres_url: str) -> None:
    stack = production_stack(postgres_url, "redis://127.0.0.1:1/0")
    try:
        _, key = stack.new_workspace("A", plan="free")
        before = sample(stack.client.get("/metrics").get_data(as_text=True),
                        "auditrail_rate_limiter_fail_open_total")
        began = time.monotonic()
        for _ in range(5):
            response = stack.client.post("/api/v1/events", headers=bearer(key), json={
                "action": "a", "actor": {"id": "u", "type": "t"}})
            assert response.status_code == 202  # stored; upkeep queues it once Redis is back
        assert time.monotonic() - began < 3  # failing fast, not retrying per request
        scraped = stack.client.get("/metrics").get_data(as_text=True)
        assert sample(scraped, "auditrail_rate_limiter_fail_open_total") == before + 5
        assert stack.client.get("/readyz").status_code == 503
    finally:
        stack.close()

