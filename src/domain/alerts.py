"""A triggered alert and its notification's progress."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from domain.deliveries import Attempt
from domain.sending import ERROR_MAX_LENGTH
from domain.timestamps import format_timestamp

PENDING = "pending"
DELIVERED = "delivered"
CANCELLED = "cancelled"
"""Its rule was deleted before the notification was accepted."""
NOTIFICATION_STATUSES = (PENDING, DELIVERED, CANCELLED)


@dataclass(frozen=True)
class Alert:
    id: str
    workspace_id: str
    rule_id: str
    group_key: str
    event_ids: tuple[str, ...]
    triggered_at: datetime
    first_sequence: int
    """The earliest chain position among its events: retention keeps them until the
    notification is accepted, so a retry sends what the first attempt did."""
    trigger_sequence: int
    """The chain position of the event that triggered it: a rule's notifications go out in
    this order (two alerts of one rule never share it)."""
    rule: dict[str, Any]
    """The rule as it was when the alert triggered (``AlertRule.summary``)."""
    status: str = PENDING
    attempts: int = 0
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    checkpoint: str | None = None
    """The log's latest signed checkpoint when the notification was first sent: every
    attempt carries the same one."""

    @property
    def count(self) -> int:
        return len(self.event_ids)

    def summary(self) -> dict[str, Any]:
        """The alert as its notification shows it: what triggered, never how the sending
        goes (which would make a retry's body differ from the first)."""
        return {"id": self.id, "rule_id": self.rule_id, "group_key": self.group_key,
                "count": self.count, "event_ids": list(self.event_ids),
                "triggered_at": format_timestamp(self.triggered_at)}

    def attempted(self, now: datetime, attempt: Attempt) -> Alert:
        if attempt.ok:
            return replace(self, status=DELIVERED, attempts=self.attempts + 1,
                           last_error=None, last_attempt_at=now, delivered_at=now)
        return replace(self, attempts=self.attempts + 1, last_attempt_at=now,
                       last_error=(attempt.error or "failed")[:ERROR_MAX_LENGTH])

    def notification(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """The webhook body (contract §7)."""
        body = {"type": "alert.triggered", "alert": self.summary(), "rule": self.rule,
                "events": events}
        if self.checkpoint is not None:
            body["checkpoint"] = self.checkpoint
        return body
