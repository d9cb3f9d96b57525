"""An alert rule's notifications: its triggered alerts, one webhook request each, in the
order they triggered, signed, retried with backoff until accepted (the delivery engine)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from application.delivery_engine import Claim, DeliveryEngine, SampleSender
from application.errors import NotFound
from application.ports.delivery import Notification, Route
from application.ports.unit_of_work import UnitOfWork
from domain.alert_rules import AUDITRAIL_FORMAT, IP_ADDRESS, AlertRule
from domain.alerts import Alert
from domain.deliveries import Attempt
from domain.samples import sample_event
from domain.streams import WEBHOOK

ALERT = "alert"
"""How the metrics name alert notifications beside the stream types."""


class NotifyAlerts(DeliveryEngine[AlertRule, Alert]):
    KIND = "alert_rule"

    def _lock(self, uow: UnitOfWork, target_id: str) -> AlertRule | None:
        return uow.alert_rules.lock(target_id)

    def _save(self, uow: UnitOfWork, target: AlertRule) -> None:
        uow.alert_rules.update(target)

    def _destination(self, target: AlertRule) -> Route:
        return notified(target)

    def _metric_type(self, target: AlertRule) -> str:
        return ALERT

    def _sealed(self, target: AlertRule) -> bytes:
        return target.credential

    def _attempted(self, uow: UnitOfWork, attempts: list[tuple[Alert, Attempt]],
                   now: datetime) -> None:
        uow.alerts.update_notifications([alert.attempted(now, attempt)
                                         for alert, attempt in attempts])

    def _next(self, uow: UnitOfWork, target: AlertRule, now: datetime
              ) -> tuple[AlertRule, list[Claim[Alert]], datetime | None]:
        """The rule's oldest pending alerts, up to ``CLAIMED_AT_ONCE`` and, past the first,
        ``EVENTS_AT_ONCE`` events between them: their events read and the latest checkpoint
        looked up once for them all, a few statements a claim rather than an alert."""
        alerts = within_events(uow.alerts.pending(target.id, CLAIMED_AT_ONCE))
        if not alerts:
            return target, [], None
        unfixed = [alert for alert in alerts if alert.checkpoint is None]
        if unfixed:  # fixed at the first attempt: retries send the same
            latest = uow.checkpoints.latest(target.workspace_id)
            if latest is not None:
                fixed = {alert.id: replace(alert, checkpoint=latest.note)
                         for alert in unfixed}
                uow.alerts.update_notifications(list(fixed.values()))
                alerts = [fixed.get(alert.id, alert) for alert in alerts]
        events = {event.id: event.document() for event in uow.events.by_ids(  # chain order
            target.workspace_id, [i for alert in alerts for i in alert.event_ids])}
        return target, [_claim(alert, events) for alert in alerts], None


CLAIMED_AT_ONCE = 20
EVENTS_AT_ONCE = 1_000
"""A claim's events, held in memory together: a rule's alerts have up to 1,000 each."""


def within_events(alerts: list[Alert]) -> list[Alert]:
    """The first alerts whose events add up to ``EVENTS_AT_ONCE`` or fewer; the first
    alone when it has more."""
    total = 0
    for taken, alert in enumerate(alerts):
        total += alert.count
        if taken and total > EVENTS_AT_ONCE:
            return alerts[:taken]
    return alerts


def _claim(alert: Alert, events: dict[str, dict[str, Any]]) -> Claim[Alert]:
    """The alert's events in chain order (``events`` is), those still stored: retention
    keeps a pending notification's events, but an erased workspace keeps none."""
    wanted = set(alert.event_ids)
    documents = [document for event_id, document in events.items() if event_id in wanted]
    return Claim(alert, Notification(alert.id, alert.notification(documents)),
                 len(documents))


def notified(rule: AlertRule) -> Route:
    """The destination's type, as the formats name it, and its URL: a rule's webhook takes
    the signed document (as a stream's webhook does), a chat message, or an incident."""
    kind = WEBHOOK if rule.notify_format == AUDITRAIL_FORMAT else rule.notify_format
    return Route(kind, rule.webhook_url)


@dataclass(frozen=True)
class SentSample:
    """What sending a rule's sample notification came to."""

    alert_id: str
    """The sample alert's id, also sent as ``Auditrail-Delivery-Id``; no alert has it."""
    sent_at: datetime
    attempt: Attempt


class SendTestNotification(SampleSender):
    """``POST /alert-rules/{id}/test``: one signed sample notification, sent now to the
    rule's webhook, shaped as a real one (``"test": true`` beside it), so that a receiver
    can be checked before an incident depends on it. It records no alert and changes
    nothing of the rule, disabled or failing as it may be."""

    def execute(self, workspace_id: str, rule_id: str) -> SentSample:
        with self._uow_factory(read_only=True) as uow:
            rule = uow.alert_rules.get(workspace_id, rule_id)
            latest = uow.checkpoints.latest(workspace_id)
        if rule is None:
            raise NotFound("alert rule", rule_id)
        now = self._clock.now()
        grouped_by_address = rule.threshold is not None and \
            rule.threshold.group_by == IP_ADDRESS
        event = sample_event(self._ids.new("evt"), workspace_id, now, "auditrail.alert.test",
                             "A test notification; no alert was triggered.",
                             with_address=grouped_by_address)
        alert = Alert(id=self._ids.new("alt"), workspace_id=workspace_id, rule_id=rule.id,
                      group_key=rule.group_key(event) or "", event_ids=(event.id,),
                      triggered_at=now, first_sequence=0, trigger_sequence=0,
                      rule=rule.summary(), checkpoint=latest.note if latest else None)
        document = {**alert.notification([event.document()]), "test": True}
        result = self._send_now(notified(rule),
                                Notification(alert.id, document), rule.credential, ALERT)
        return SentSample(alert.id, now, result.attempt)
