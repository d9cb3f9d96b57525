"""The alert repository: triggered alerts and how their notifications stand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, tuple_, update
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.bulk import json_text
from adapters.sql.keyset import count_of
from application.ports.repositories.alerts import AlertFilters, RuleBacklog
from domain.alerts import CANCELLED, PENDING, Alert
from domain.cursor import ASC, Position
from domain.timestamps import format_timestamp

_ALERT_FIELDS = ("id", "workspace_id", "rule_id", "group_key", "first_sequence",
                 "trigger_sequence", "rule", "triggered_at", "status", "attempts",
                 "last_error", "last_attempt_at", "delivered_at", "checkpoint")
_NOTIFICATION_FIELDS = ("status", "attempts", "last_error", "last_attempt_at",
                        "delivered_at", "checkpoint")
"""What changes of an alert once it is stored."""
_ALERT_TIMES = ("triggered_at", "last_attempt_at", "delivered_at")
_ADD_FROM_JSON = text("""
    INSERT INTO alerts (id, workspace_id, rule_id, group_key, event_ids, first_sequence,
                        trigger_sequence, rule, triggered_at, status, attempts, last_error,
                        last_attempt_at, delivered_at, checkpoint)
    SELECT a.id, a.workspace_id, a.rule_id, a.group_key, a.event_ids, a.first_sequence,
           a.trigger_sequence, a.rule, a.triggered_at, a.status, a.attempts, a.last_error,
           a.last_attempt_at, a.delivered_at, a.checkpoint
    FROM json_to_recordset(CAST(:rows AS json))
         AS a (id text, workspace_id text, rule_id text, group_key text, event_ids json,
               first_sequence bigint, trigger_sequence bigint, rule json,
               triggered_at timestamptz, status text, attempts int, last_error text,
               last_attempt_at timestamptz, delivered_at timestamptz, checkpoint text)
""")


def _alert_row(alert: Alert) -> dict[str, Any]:
    return {**{name: getattr(alert, name) for name in _ALERT_FIELDS},
            "event_ids": list(alert.event_ids)}


def _alert(row: RowMapping) -> Alert:
    return Alert(**{name: row[name] for name in _ALERT_FIELDS},
                 event_ids=tuple(row["event_ids"]))


class SqlAlertRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add_many(self, alerts: Sequence[Alert]) -> None:
        """A chunk's alerts, as one JSON parameter on PostgreSQL (a statement, where a
        bound row each cost a chunk with a hundred alerts a third more)."""
        if not alerts:
            return
        if self._db.dialect.name != "postgresql":
            self._db.execute(insert(t.alerts), [_alert_row(alert) for alert in alerts])
            return
        self._db.execute(_ADD_FROM_JSON, {"rows": json_text([
            {**_alert_row(alert), **{name: format_timestamp(getattr(alert, name))
                                     for name in _ALERT_TIMES if getattr(alert, name)}}
            for alert in alerts])})

    def update_notifications(self, alerts: Sequence[Alert]) -> None:
        """One statement, executed for each alert (on PostgreSQL, psycopg's executemany
        sends them in one pipeline rather than a round trip each)."""
        if not alerts:
            return
        a = t.alerts.c
        self._db.execute(
            update(t.alerts).where(a.workspace_id == bindparam("b_workspace_id"),
                                   a.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in _NOTIFICATION_FIELDS}),
            [{f"b_{name}": getattr(alert, name)
              for name in ("workspace_id", "id", *_NOTIFICATION_FIELDS)} for alert in alerts])

    def get(self, workspace_id: str, alert_id: str) -> Alert | None:
        row = self._db.execute(select(t.alerts).where(
            t.alerts.c.workspace_id == workspace_id, t.alerts.c.id == alert_id)
        ).mappings().first()
        return _alert(row) if row else None

    def pending(self, rule_id: str, limit: int) -> list[Alert]:
        a = t.alerts.c
        rows = self._db.execute(select(t.alerts).where(a.rule_id == rule_id,
                                                       a.status == PENDING)
                                .order_by(a.trigger_sequence).limit(limit)).mappings()
        return [_alert(row) for row in rows]

    def page(self, workspace_id: str, filters: AlertFilters, order: str,
             after: Position | None, limit: int) -> list[Alert]:
        a = t.alerts.c
        key = tuple_(a.triggered_at, a.id)
        query = self._filtered(select(t.alerts), workspace_id, filters)
        if after is not None:
            boundary = tuple_(after.at, after.id)
            query = query.where(key > boundary if order == ASC else key < boundary)
        direction = [column.asc() if order == ASC else column.desc()
                     for column in (a.triggered_at, a.id)]
        rows = self._db.execute(query.order_by(*direction).limit(limit)).mappings()
        return [_alert(row) for row in rows]

    def count(self, workspace_id: str, filters: AlertFilters) -> int:
        if filters == AlertFilters():
            return count_of(self._db, t.alerts, workspace_id)
        query = self._filtered(select(func.count()).select_from(t.alerts), workspace_id,
                               filters)
        return self._db.execute(query).scalar_one()

    @staticmethod
    def _filtered(query: Any, workspace_id: str, filters: AlertFilters) -> Any:
        a = t.alerts.c
        query = query.where(a.workspace_id == workspace_id)
        if filters.rule_id is not None:
            query = query.where(a.rule_id == filters.rule_id)
        if filters.group_key is not None:
            query = query.where(a.group_key == filters.group_key)
        if filters.since is not None:
            query = query.where(a.triggered_at >= filters.since)
        if filters.until is not None:
            query = query.where(a.triggered_at < filters.until)
        if filters.notification_status is not None:
            query = query.where(a.status == filters.notification_status)
        return query

    def held_from(self, workspace_id: str) -> int | None:
        a = t.alerts.c
        return self._db.execute(select(func.min(a.first_sequence)).where(
            a.workspace_id == workspace_id, a.status == PENDING)).scalar_one()

    def cancel_pending(self, workspace_id: str, rule_id: str, now: datetime) -> int:
        a = t.alerts.c
        return self._db.execute(update(t.alerts).where(
            a.workspace_id == workspace_id, a.rule_id == rule_id, a.status == PENDING)
            .values(status=CANCELLED, last_error="The alert rule was deleted.")).rowcount

    def delete_through(self, workspace_id: str, sequence: int) -> int:
        a = t.alerts.c
        return self._db.execute(delete(t.alerts).where(
            a.workspace_id == workspace_id, a.trigger_sequence <= sequence,
            a.status != PENDING)).rowcount

    def rules_behind(self, limit: int) -> list[RuleBacklog]:
        a, r = t.alerts.c, t.alert_rules.c
        oldest = func.min(a.triggered_at)
        rows = self._db.execute(
            select(a.rule_id, a.workspace_id, r.failing_since, func.count(), oldest)
            .select_from(t.alerts.outerjoin(t.alert_rules, r.id == a.rule_id))
            .where(a.status == PENDING)
            .group_by(a.rule_id, a.workspace_id, r.failing_since)
            .order_by(oldest, a.rule_id).limit(limit))
        return [RuleBacklog(rule_id, workspace_id, failing_since is not None, pending,
                            triggered_at)
                for rule_id, workspace_id, failing_since, pending, triggered_at in rows]

    def pending_count(self) -> int:
        return self._db.execute(select(func.count()).select_from(t.alerts).where(
            t.alerts.c.status == PENDING)).scalar_one()
