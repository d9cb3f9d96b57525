"""``GET /usage``: the plan, where the rate limit stands, and event counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from application.counting import EventCounter
from application.ports.rate_limits import RateLimiter
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from application.principal import Principal
from domain.event_search import EventFilters
from domain.rate_limit import Decision


@dataclass(frozen=True)
class Usage:
    plan: str
    rate_limit: Decision
    total: int
    pending: int
    last_24h: int


class GetUsage:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, limiter: RateLimiter,
                 counter: EventCounter) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._limiter = limiter
        self._counter = counter

    def execute(self, principal: Principal, rate_limit: Decision | None = None) -> Usage:
        """``rate_limit``: the decision that admitted this very request, when there is one."""
        workspace = principal.workspace
        decision = rate_limit or self._limiter.peek(
            f"workspace:{workspace.id}:{workspace.rate_limit_per_minute}",
            workspace.rate_limit_per_minute)
        since = self._clock.now() - timedelta(hours=24)
        with self._uow_factory(snapshot=True) as uow:
            total, pending = self._counter.totals(uow, workspace.id)
            recent = uow.events.count(workspace.id, EventFilters(since=since))
        return Usage(workspace.plan, decision, total, pending, recent)
