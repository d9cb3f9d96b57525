"""The alert rule repository."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.keyset import count_of, created_page
from adapters.sql.mappers import sending_from, sending_row
from adapters.sql.sending import ready_to_send
from domain.alert_rules import MATCH_LISTS, AlertRule, Threshold
from domain.alerts import PENDING
from domain.cursor import Position

_RULE_FIELDS = ("id", "workspace_id", "name", "enabled", "cooldown_seconds", "webhook_url",
                "credential", "credential_hint", "notify_format", "created_at", "updated_at")
_LISTS = ("actions", *MATCH_LISTS)


def _rule_row(rule: AlertRule) -> dict[str, Any]:
    row = {name: getattr(rule, name) for name in _RULE_FIELDS}
    for name in _LISTS:
        value = getattr(rule, name)
        row[name] = list(value) if value is not None else None
    row["match_metadata"] = ({key: list(values) for key, values in rule.metadata.items()}
                             if rule.metadata is not None else None)
    threshold = rule.threshold
    row.update(threshold_count=threshold.count if threshold else None,
               threshold_window_seconds=threshold.window_seconds if threshold else None,
               threshold_group_by=threshold.group_by if threshold else None)
    return {**row, **sending_row(rule.sending)}


def _rule(row: RowMapping) -> AlertRule:
    values: dict[str, Any] = {name: row[name] for name in _RULE_FIELDS}
    values["credential"] = bytes(values["credential"])
    for name in _LISTS:
        values[name] = tuple(row[name]) if row[name] is not None else None
    if row["match_metadata"] is not None:
        values["metadata"] = {key: tuple(listed)
                              for key, listed in row["match_metadata"].items()}
    if row["threshold_count"] is not None:
        values["threshold"] = Threshold(row["threshold_count"],
                                        row["threshold_window_seconds"],
                                        row["threshold_group_by"])
    return AlertRule(**values, sending=sending_from(row))


class SqlAlertRuleRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, rule: AlertRule) -> None:
        self._db.execute(insert(t.alert_rules), _rule_row(rule))

    def get(self, workspace_id: str, rule_id: str) -> AlertRule | None:
        return self._one(select(t.alert_rules).where(t.alert_rules.c.workspace_id ==
                                                     workspace_id,
                                                     t.alert_rules.c.id == rule_id))

    def lock(self, rule_id: str) -> AlertRule | None:
        return self._one(select(t.alert_rules).where(t.alert_rules.c.id == rule_id)
                         .with_for_update())

    def update(self, rule: AlertRule) -> None:
        values = _rule_row(rule)
        del values["id"], values["workspace_id"]
        self._db.execute(update(t.alert_rules).where(
            t.alert_rules.c.workspace_id == rule.workspace_id, t.alert_rules.c.id == rule.id)
            .values(values))

    def delete(self, workspace_id: str, rule_id: str) -> bool:
        return self._db.execute(delete(t.alert_rules).where(
            t.alert_rules.c.workspace_id == workspace_id,
            t.alert_rules.c.id == rule_id)).rowcount > 0

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[AlertRule]:
        return [_rule(row) for row in created_page(self._db, t.alert_rules, workspace_id,
                                                   order, after, limit)]

    def count(self, workspace_id: str) -> int:
        return count_of(self._db, t.alert_rules, workspace_id)

    def enabled(self, workspace_id: str) -> list[AlertRule]:
        return [_rule(row) for row in self._db.execute(
            self._enabled(select(t.alert_rules), workspace_id)).mappings()]

    def enabled_versions(self, workspace_id: str) -> list[tuple[str, datetime]]:
        r = t.alert_rules.c
        return [(rule_id, updated_at) for rule_id, updated_at in self._db.execute(
            self._enabled(select(r.id, r.updated_at), workspace_id))]

    @staticmethod
    def _enabled(query: Any, workspace_id: str) -> Any:
        r = t.alert_rules.c
        return (query.where(r.workspace_id == workspace_id, r.enabled.is_(True))
                .order_by(r.created_at, r.id))

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        r, a = t.alert_rules.c, t.alerts.c
        pending = select(a.rule_id).where(a.status == PENDING).distinct()
        rows = self._db.execute(
            select(r.id).where(r.id.in_(pending), ready_to_send(r, now))
            .order_by(r.id).limit(limit))
        return list(rows.scalars())

    def _one(self, query: Any) -> AlertRule | None:
        row = self._db.execute(query).mappings().first()
        return _rule(row) if row else None
