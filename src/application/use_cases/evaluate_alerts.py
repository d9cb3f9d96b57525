"""The processing step's alert evaluation: inside the transaction that links a chunk.

So an event is evaluated exactly once whatever crashes, retries or number of workers: the
chunk's links, the rules' window states and the alerts they trigger commit together, or
not at all, under the workspace's chain lock, in chain order. A chunk costs a bounded
number of statements whatever its size and the number of rules: the enabled rules (one
read), the window states of the (rule, group) pairs it touches (one read, one write), the
alerts (one insert). The notifications go out after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from application.ports.jobs import JobQueue
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.use_cases.process_pending_events import AfterCommit
from domain.alert_evaluation import RuleIndex, evaluate, stateful_keys
from domain.alerts import Alert
from domain.events import Event


class AlertEvaluation:
    def __init__(self, ids: IdGenerator, clock: Clock, queue: JobQueue,
                 metrics: Metrics = NO_METRICS) -> None:
        self._ids = ids
        self._clock = clock
        self._queue = queue
        self._metrics = metrics

    def __call__(self, uow: UnitOfWork, events: Sequence[Event]) -> AfterCommit | None:
        workspace_id = events[0].workspace_id
        rules = uow.alert_rules.enabled(workspace_id)
        if not rules:
            return None
        matches = RuleIndex(rules).matches(events)
        if not matches:
            return None
        states = uow.alert_windows.load(workspace_id, stateful_keys(matches))
        outcome = evaluate(matches, states)
        now = self._clock.now()
        uow.alert_windows.save(workspace_id, outcome.states, now)
        alerts = [Alert(id=self._ids.new("alt"), workspace_id=workspace_id,
                        rule_id=trigger.rule.id, group_key=trigger.group_key,
                        event_ids=tuple(counted.event_id for counted in trigger.events),
                        first_sequence=min(counted.sequence for counted in trigger.events),
                        trigger_sequence=trigger.sequence, triggered_at=now,
                        rule=trigger.rule.summary())
                  for trigger in outcome.triggers]
        if not alerts:
            return None
        uow.alerts.add_many(alerts)
        rule_ids = list(dict.fromkeys(alert.rule_id for alert in alerts))

        def notify() -> None:
            self._metrics.alerts_triggered(len(alerts))
            self._queue.enqueue_deliveries(rule_ids)
        return notify
