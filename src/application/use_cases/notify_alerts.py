"""An alert rule's notifications: its triggered alerts, one webhook request each, in the
order they triggered, signed, retried with backoff until accepted (the delivery engine)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from application.delivery_engine import Claim, DeliveryEngine
from application.ports.delivery import Notification
from application.ports.unit_of_work import UnitOfWork
from domain.alert_rules import AlertRule
from domain.alerts import Alert
from domain.deliveries import Attempt
from domain.streams import WEBHOOK

ALERT = "alert"
"""How the metrics name alert notifications beside the stream types."""


class NotifyAlerts(DeliveryEngine[AlertRule, Alert]):
    def _lock(self, uow: UnitOfWork, target_id: str) -> AlertRule | None:
        return uow.alert_rules.lock(target_id)

    def _save(self, uow: UnitOfWork, target: AlertRule) -> None:
        uow.alert_rules.update(target)

    def _destination(self, target: AlertRule) -> tuple[str, str]:
        return WEBHOOK, target.webhook_url

    def _metric_type(self, target: AlertRule) -> str:
        return ALERT

    def _sealed(self, target: AlertRule) -> bytes:
        return target.credential

    def _attempted(self, uow: UnitOfWork, item: Alert, attempt: Attempt,
                   now: datetime) -> None:
        uow.alerts.update(item.attempted(now, attempt))

    def _next(self, uow: UnitOfWork, target: AlertRule, now: datetime
              ) -> tuple[AlertRule, Claim[Alert] | None, datetime | None]:
        alert = uow.alerts.next_pending(target.id)
        if alert is None:
            return target, None, None
        if alert.checkpoint is None:  # fixed at the first attempt: retries send the same
            latest = uow.checkpoints.latest(alert.workspace_id)
            if latest is not None:
                alert = replace(alert, checkpoint=latest.note)
                uow.alerts.update(alert)
        events = [event.document()
                  for event in uow.events.by_ids(alert.workspace_id, alert.event_ids)]
        notification = Notification(alert.id, alert.notification(events))
        return target, Claim(alert, notification, len(events)), None
