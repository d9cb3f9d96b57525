"""The processing step's alert evaluation: inside the transaction that links a chunk.

So an event is evaluated exactly once whatever crashes, retries or number of workers: the
chunk's links, the rules' window states and the alerts they trigger commit together, or
not at all, under the workspace's chain lock, in chain order. A chunk costs a bounded
number of statements whatever its size and the number of rules: the enabled rules' versions
(one read; the rules themselves only when they changed), the window states of the (rule,
group) pairs it touches that this process does not already know (one read, see
``application.alert_memory``), the states it changed (one write), the alerts (one insert).
The notifications go out after the commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from application.alert_memory import Position, RuleSets, WindowMemory
from application.ports.jobs import JobQueue
from application.ports.metrics import NO_METRICS, Metrics
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWork
from application.use_cases.process_pending_events import AfterCommit
from domain.alert_evaluation import Trigger, evaluate, stateful_keys
from domain.alerts import Alert
from domain.events import Event


class AlertEvaluation:
    def __init__(self, ids: IdGenerator, clock: Clock, queue: JobQueue,
                 metrics: Metrics = NO_METRICS, rule_sets: RuleSets | None = None,
                 windows: WindowMemory | None = None) -> None:
        self._ids = ids
        self._clock = clock
        self._queue = queue
        self._metrics = metrics
        self._rule_sets = rule_sets or RuleSets()
        self._windows = windows or WindowMemory()

    def __call__(self, uow: UnitOfWork, events: Sequence[Event]) -> AfterCommit | None:
        workspace_id = events[0].workspace_id
        rules = self._rule_sets.current(uow.alert_rules, workspace_id)
        if rules.empty:
            return None
        after, through = _bounds(events)
        recalled = self._windows.recall(workspace_id, after, rules.version)
        known = recalled or {}
        matches = rules.index.matches(events)
        needed = stateful_keys(matches)
        unknown = needed - known.keys()
        read = uow.alert_windows.load(workspace_id, unknown) if unknown else {}
        states = {key: state for key in needed
                  if (state := known[key] if key in known else read.get(key)) is not None}
        outcome = evaluate(matches, states)
        now = self._clock.now()
        uow.alert_windows.save(workspace_id, outcome.states, now)
        alerts = self._alerts(workspace_id, outcome.triggers, now)
        uow.alerts.add_many(alerts)
        learned = {**dict.fromkeys(unknown), **read, **outcome.states}

        def after_commit() -> None:
            self._windows.remember(workspace_id, after, through, rules.version, learned,
                                   recalled=recalled is not None)
            if alerts:
                self._metrics.alerts_triggered(len(alerts))
                self._queue.enqueue_deliveries(list(dict.fromkeys(a.rule_id for a in alerts)))
        return after_commit

    def _alerts(self, workspace_id: str, triggers: Sequence[Trigger],
                now: datetime) -> list[Alert]:
        return [Alert(id=self._ids.new("alt"), workspace_id=workspace_id,
                      rule_id=trigger.rule.id, group_key=trigger.group_key,
                      event_ids=tuple(event_id for _, event_id, _ in trigger.events),
                      first_sequence=min(sequence for _, _, sequence in trigger.events),
                      trigger_sequence=trigger.sequence, triggered_at=now,
                      rule=trigger.rule.summary())
                for trigger in triggers]


def _bounds(events: Sequence[Event]) -> tuple[Position, Position]:
    """Where a linked chunk starts (right after the chain's previous event) and ends."""
    first, last = events[0].linked, events[-1].linked
    return (first.sequence - 1, first.prev_hash), (last.sequence, last.hash)
