"""Alert rules, the alerts they raised and their threshold windows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from domain.alert_evaluation import Key, WindowState
from domain.alert_rules import AlertRule
from domain.alerts import Alert
from domain.cursor import Position


@dataclass(frozen=True)
class AlertFilters:
    rule_id: str | None = None
    group_key: str | None = None
    since: datetime | None = None
    """triggered_at >= since"""
    until: datetime | None = None
    """triggered_at < until"""
    notification_status: str | None = None
    """pending, delivered or cancelled"""


@dataclass(frozen=True)
class RuleBacklog:
    """A rule's notifications not yet accepted."""

    rule_id: str
    workspace_id: str
    failing: bool
    pending: int
    oldest_triggered_at: datetime


class AlertRuleRepository(Protocol):
    def add(self, rule: AlertRule) -> None: ...
    def get(self, workspace_id: str, rule_id: str) -> AlertRule | None: ...

    def lock(self, rule_id: str) -> AlertRule | None:
        """Read and hold until commit, by id alone: for the notification job."""
        ...

    def update(self, rule: AlertRule) -> None: ...
    def delete(self, workspace_id: str, rule_id: str) -> bool: ...

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[AlertRule]: ...

    def count(self, workspace_id: str) -> int: ...

    def enabled(self, workspace_id: str) -> list[AlertRule]:
        """The rules processing evaluates, in evaluation order (created_at, id)."""
        ...

    def enabled_versions(self, workspace_id: str) -> list[tuple[str, datetime]]:
        """(id, updated_at) of ``enabled``'s rules, in the same order: whether they
        changed, for the price of a read of the primary key's columns."""
        ...

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        """Rules with a notification pending that are neither leased nor backing off."""
        ...


class AlertRepository(Protocol):
    def add_many(self, alerts: Sequence[Alert]) -> None: ...
    def get(self, workspace_id: str, alert_id: str) -> Alert | None: ...

    def update_notifications(self, alerts: Sequence[Alert]) -> None:
        """How each alert's notification stands, and the checkpoint it carries: all that
        changes of an alert once it is stored."""
        ...

    def pending(self, rule_id: str, limit: int) -> list[Alert]:
        """The rule's oldest alerts whose notifications are not yet accepted, oldest
        first."""
        ...

    def page(self, workspace_id: str, filters: AlertFilters, order: str,
             after: Position | None, limit: int) -> list[Alert]:
        """In ``(triggered_at, id)`` order."""
        ...

    def count(self, workspace_id: str, filters: AlertFilters) -> int: ...

    def held_from(self, workspace_id: str) -> int | None:
        """The first sequence a pending notification of the workspace still sends."""
        ...

    def cancel_pending(self, workspace_id: str, rule_id: str, now: datetime) -> int:
        """Its rule is gone: pending notifications will never be sent."""
        ...

    def delete_through(self, workspace_id: str, sequence: int) -> int:
        """Remove the alerts retention left without events: every event of theirs is at
        or before ``sequence`` (their trigger is). A pending one stays (it holds its
        events back from retention, so none should be found)."""
        ...

    def pending_count(self) -> int:
        """Notifications not yet accepted, all workspaces (for the metrics)."""
        ...

    def rules_behind(self, limit: int) -> list[RuleBacklog]:
        """The rules with notifications not yet accepted, all workspaces, the one whose
        oldest has waited longest first."""
        ...


class AlertWindowRepository(Protocol):
    def load(self, workspace_id: str, keys: Iterable[Key]) -> dict[Key, WindowState]:
        """The states of these (rule, group) pairs that exist, in one read."""
        ...

    def save(self, workspace_id: str, states: Mapping[Key, WindowState],
             now: datetime) -> None:
        """Insert or replace these states, in one statement."""
        ...

    def forget_rule(self, rule_id: str) -> None:
        """A changed rule counts afresh."""
        ...

    def purge(self, horizon_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` states whose ``WindowState.horizon`` is before
        ``horizon_before`` (``alert_evaluation.expired_before``: every event still to be
        linked forgets them)."""
        ...
