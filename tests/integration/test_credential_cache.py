"""Server processes cache the keys they authenticated; a change made through another one
(or the CLI) still applies to the very next request. Two containers are two processes:
each has its own cache, and they share PostgreSQL and Redis."""

from __future__ import annotations

import uuid
from typing import Any

import redis

from tests.integration.stacks import Stack, bearer

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def _pair(stack_factory: Any) -> tuple[Stack, Stack]:
    queue = f"auditrail-test-{uuid.uuid4().hex[:8]}"
    return (stack_factory("production", queue_name=queue),
            stack_factory("production", queue_name=queue))


def _verify(stack: Stack, secret: str, **environ: str) -> Any:
    return stack.client.get("/api/v1/events/verify", headers=bearer(secret),
                            environ_base=environ)


def test_revocation_elsewhere_applies_to_the_next_request(stack_factory: Any) -> None:
    here, there = _pair(stack_factory)
    workspace_id, admin = here.new_workspace()
    reader = here.container.create_api_key().execute(workspace_id, "reader", ["events:read"])
    for _ in range(3):  # learnt and cached over there
        assert _verify(there, reader.secret).status_code == 200
    assert here.client.delete(f"/api/v1/api-keys/{reader.key.id}",
                              headers=bearer(admin)).status_code == 200
    assert _verify(there, reader.secret).status_code == 401
    assert _verify(there, admin).status_code == 200


def test_allowlist_and_plan_changes_apply_to_the_next_request(stack_factory: Any) -> None:
    here, there = _pair(stack_factory)
    workspace_id, admin = here.new_workspace()
    for _ in range(3):
        assert _verify(there, admin).status_code == 200
    patched = here.client.patch("/api/v1/workspace", headers=bearer(admin),
                                json={"ip_allowlist": ["203.0.113.0/24"]},
                                environ_base=ELSEWHERE)
    assert patched.status_code == 200
    assert _verify(there, admin).status_code == 403
    assert _verify(there, admin, **ELSEWHERE).status_code == 200
    here.container.update_workspace_plan().execute(workspace_id, "enterprise", 5)  # the CLI
    assert _verify(there, admin, **ELSEWHERE).headers["X-RateLimit-Limit"] == "5"


def test_a_restarted_redis_invalidates_every_cache(stack_factory: Any, redis_url: str) -> None:
    """A change whose announcement never arrived (Redis was down) is still picked up once
    Redis comes back empty: the version is new, so nothing cached before is trusted."""
    here, there = _pair(stack_factory)
    workspace_id, _ = here.new_workspace()
    reader = here.container.create_api_key().execute(workspace_id, "reader", ["events:read"])
    for _ in range(3):
        assert _verify(there, reader.secret).status_code == 200
    here.sql("UPDATE api_keys SET revoked_at = created_at WHERE id = :id", id=reader.key.id)
    assert _verify(there, reader.secret).status_code == 200  # cached, as intended
    redis.Redis.from_url(redis_url).delete(
        f"{there.settings.queue_name}:ratelimit:credentials-version")
    assert _verify(there, reader.secret).status_code == 401
