"""Server processes cache the keys they authenticated; a change made through another one
(or the CLI) still applies to the very next request. Two containers stand for two
processes: each has its own credential cache, and they share PostgreSQL and Redis. (They
are driven through their use cases: Flask views are wired to one container per process.)"""

from __future__ import annotations

from typing import Any

import pytest
import redis

from application.errors import IpNotAllowed, Unauthenticated
from application.principal import Principal
from tests.integration.stacks import Stack
from tests.queues import throwaway_queue_name

HERE, ELSEWHERE = "198.51.100.1", "203.0.113.9"


def _pair(stack_factory: Any) -> tuple[Stack, Stack]:
    queue = throwaway_queue_name()
    return (stack_factory("production", queue_name=queue),
            stack_factory("production", queue_name=queue))


class Lookups:
    """Counts the database lookups of one process's admission."""

    def __init__(self, stack: Stack) -> None:
        self.admit = stack.container.admit_request()
        self.calls = 0
        real = self.admit._authenticate.execute

        def counted(*args: Any) -> Any:
            self.calls += 1
            return real(*args)

        self.admit._authenticate.execute = counted  # type: ignore[method-assign]

    def request(self, secret: str, address: str = HERE) -> Any:
        return self.admit.execute(secret, address)


def _reader_cached_elsewhere(stack_factory: Any) -> tuple[Stack, Stack, Any, Lookups]:
    """A key created through one process and used five times through the other."""
    here, there = _pair(stack_factory)
    workspace_id, _ = here.new_workspace()
    reader = here.container.create_api_key().execute(workspace_id, "reader", ["events:read"])
    process = Lookups(there)
    for _ in range(5):
        process.request(reader.secret)
    return here, there, reader, process


def test_a_steady_key_is_looked_up_once_and_revocation_applies_next(
        stack_factory: Any) -> None:
    here, _, reader, process = _reader_cached_elsewhere(stack_factory)
    assert process.calls == 2  # learn the version, then cache under it
    here.container.revoke_api_key().execute(reader.key.workspace_id, reader.key.id)
    with pytest.raises(Unauthenticated):
        process.request(reader.secret)


def test_allowlist_and_plan_changes_apply_to_the_next_request(stack_factory: Any) -> None:
    here, there = _pair(stack_factory)
    workspace_id, admin = here.new_workspace()
    process = Lookups(there)
    principal = process.request(admin, ELSEWHERE).principal
    process.request(admin, ELSEWHERE)
    here.container.update_workspace().execute(
        principal, {"ip_allowlist": ["203.0.113.0/24"]}, ELSEWHERE)
    with pytest.raises(IpNotAllowed):
        process.request(admin, HERE)
    here.container.update_workspace_plan().execute(workspace_id, "enterprise", 5)  # the CLI
    assert process.request(admin, ELSEWHERE).rate_limit.limit == 5


def test_accepted_actions_listed_elsewhere_apply_to_the_next_request(
        stack_factory: Any) -> None:
    here, there = _pair(stack_factory)
    _, admin = here.new_workspace()
    process = Lookups(there)
    principal = process.request(admin).principal
    assert process.request(admin).principal.workspace.accepts is None
    here.container.update_workspace().execute(principal, {"accepted_actions": ["user.*"]},
                                              HERE)
    accepts = process.request(admin).principal.workspace.accepts
    assert accepts is not None and list(accepts.refusals(["user.login", "billing.paid"])) \
        == ["billing.paid"]
    assert process.request(admin).principal.workspace.accepts is accepts  # kept, not rebuilt


def test_a_restarted_redis_invalidates_every_cache(stack_factory: Any, redis_url: str) -> None:
    """A change whose announcement never arrived (Redis was down) is still picked up once
    Redis comes back empty: the version is new, so nothing cached before is trusted."""
    here, there, reader, process = _reader_cached_elsewhere(stack_factory)
    here.sql("UPDATE api_keys SET revoked_at = created_at WHERE id = :id", id=reader.key.id)
    assert isinstance(process.request(reader.secret).principal, Principal)  # cached
    redis.Redis.from_url(redis_url).delete(
        f"{there.settings.queue_name}:ratelimit:credentials-version")
    with pytest.raises(Unauthenticated):
        process.request(reader.secret)
