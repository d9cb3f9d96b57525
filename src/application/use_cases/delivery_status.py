"""How far behind each log stream is, and how many alert notifications wait (and for
which rules): what an operator graphs and alerts on."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.sending import status_of


@dataclass(frozen=True)
class StreamLag:
    stream_id: str
    workspace_id: str
    type: str
    status: str
    backlog: int
    lag_seconds: float
    """Age of the oldest event the stream has not delivered: 0 when it is caught up."""


@dataclass(frozen=True)
class RuleLag:
    rule_id: str
    workspace_id: str
    status: str
    """``failing`` after five failed attempts in a row, else ``active``."""
    pending: int
    lag_seconds: float
    """How long its oldest notification not yet accepted has waited since it triggered."""


@dataclass(frozen=True)
class DeliveryStatus:
    streams: list[StreamLag]
    """The streams with events to deliver, or paused or failing (none caught up)."""
    pending_notifications: int
    """Triggered alerts whose notification is not yet accepted, all workspaces."""
    rules_behind: list[RuleLag]
    """The alert rules with notifications waiting longest (as many as asked for)."""


class GetDeliveryStatus:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow_factory = uow_factory
        self._clock = clock

    def execute(self, rules: int = 0) -> DeliveryStatus:
        """``rules``: how many of the alert rules furthest behind to list (the metrics,
        scraped often, ask for none)."""
        with self._uow_factory(read_only=True) as uow:
            progress = uow.streams.progress()
            pending = uow.alerts.pending_count()
            behind = uow.alerts.rules_behind(rules) if rules else []
        now = self._clock.now()
        return DeliveryStatus([
            StreamLag(p.stream_id, p.workspace_id, p.type, p.status, p.backlog,
                      max(0.0, (now - p.oldest_undelivered_at).total_seconds())
                      if p.oldest_undelivered_at is not None and p.backlog else 0.0)
            for p in progress], pending, [
            RuleLag(b.rule_id, b.workspace_id, status_of(b.failing), b.pending,
                    max(0.0, (now - b.oldest_triggered_at).total_seconds()))
            for b in behind])
