"""The alert rule, alert and alert window repositories."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.bulk import json_text
from adapters.sql.keyset import count_of, created_page
from adapters.sql.mappers import sending_from, sending_row
from adapters.sql.repositories import dialect_insert
from application.ports.repositories.alerts import AlertFilters
from domain.alert_evaluation import Key, WindowState
from domain.alert_rules import MATCH_LISTS, AlertRule, Threshold
from domain.alerts import CANCELLED, PENDING, Alert
from domain.cursor import ASC, Position
from domain.timestamps import format_timestamp, from_micros

_RULE_FIELDS = ("id", "workspace_id", "name", "enabled", "cooldown_seconds", "webhook_url",
                "credential", "credential_hint", "notify_format", "created_at", "updated_at")
_LISTS = ("actions", *MATCH_LISTS)
_ALERT_FIELDS = ("id", "workspace_id", "rule_id", "group_key", "first_sequence",
                 "trigger_sequence", "rule", "triggered_at", "status", "attempts",
                 "last_error", "last_attempt_at", "delivered_at", "checkpoint")
_NOTIFICATION_FIELDS = ("status", "attempts", "last_error", "last_attempt_at",
                        "delivered_at", "checkpoint")
"""What changes of an alert once it is stored."""


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
            select(r.id).where(r.id.in_(pending),
                               (r.leased_until.is_(None)) | (r.leased_until <= now),
                               (r.next_attempt_at.is_(None)) | (r.next_attempt_at <= now))
            .order_by(r.id).limit(limit))
        return list(rows.scalars())

    def _one(self, query: Any) -> AlertRule | None:
        row = self._db.execute(query).mappings().first()
        return _rule(row) if row else None


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
        """One statement, executed for each alert (psycopg sends them in one pipeline)."""
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

    def pending_count(self) -> int:
        return self._db.execute(select(func.count()).select_from(t.alerts).where(
            t.alerts.c.status == PENDING)).scalar_one()


def _state_json(state: WindowState) -> dict[str, Any]:
    """The stored form is the state's own: times in microseconds, each counted event an
    array of three (JSON writes tuples as arrays)."""
    return {"events": state.events, "newest": state.newest, "quiet_until": state.quiet_until,
            "touched": state.touched}


def _state(document: Mapping[str, Any]) -> WindowState:
    return WindowState(events=tuple(map(tuple, document["events"])),  # type: ignore[arg-type]
                       newest=document["newest"], quiet_until=document["quiet_until"],
                       touched=document.get("touched"))  # absent: written before 0015


_LOAD = {
    "postgresql": """
        SELECT w.rule_id, w.group_key, w.state FROM alert_windows AS w
        JOIN json_to_recordset(CAST(:keys AS json)) AS k (rule_id text, group_key text)
          ON w.rule_id = k.rule_id AND w.group_key = k.group_key
        WHERE w.workspace_id = :workspace_id""",
    "sqlite": """
        SELECT w.rule_id, w.group_key, w.state FROM json_each(:keys) AS k
        JOIN alert_windows AS w ON w.rule_id = json_extract(k.value, '$.rule_id')
          AND w.group_key = json_extract(k.value, '$.group_key')
        WHERE w.workspace_id = :workspace_id""",
}
_SAVE_FROM_JSON = text("""
    INSERT INTO alert_windows (rule_id, group_key, workspace_id, state, horizon, updated_at)
    SELECT r.rule_id, r.group_key, :workspace_id, CAST(r.state AS text),
           timestamptz 'epoch' + r.horizon * interval '1 microsecond', :now
    FROM json_to_recordset(CAST(:rows AS json))
         AS r (rule_id text, group_key text, state json, horizon bigint)
    ON CONFLICT (rule_id, group_key) DO UPDATE
       SET state = excluded.state, horizon = excluded.horizon, updated_at = excluded.updated_at
""")


class SqlAlertWindowRepository:
    """A chunk touches thousands of (rule, group) pairs when many rules count many actors:
    they go to the database as one JSON parameter, so the statement's text, its parsing
    and its binding stay the same size whatever their number (as bound tuples, the read
    alone cost a 500-event chunk 200 ms)."""

    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def load(self, workspace_id: str, keys: Iterable[Key]) -> dict[Key, WindowState]:
        keys = [{"rule_id": rule_id, "group_key": group_key} for rule_id, group_key in keys]
        if not keys:
            return {}
        w = t.alert_windows.c
        query = text(_LOAD[self._db.dialect.name]).columns(w.rule_id, w.group_key, w.state)
        rows = self._db.execute(query, {"workspace_id": workspace_id, "keys": json_text(keys)})
        return {(rule_id, group_key): _state(state) for rule_id, group_key, state in rows}

    def save(self, workspace_id: str, states: Mapping[Key, WindowState],
             now: datetime) -> None:
        if not states:
            return
        rows = [{"rule_id": rule_id, "group_key": group_key, "state": _state_json(state),
                 "horizon": state.horizon}  # in microseconds, as the state keeps time
                for (rule_id, group_key), state in states.items()]
        if self._db.dialect.name == "postgresql":
            self._db.execute(_SAVE_FROM_JSON, {"workspace_id": workspace_id, "now": now,
                                               "rows": json_text(rows)})
            return
        table = t.alert_windows
        upsert = dialect_insert(self._db)(table)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.rule_id, table.c.group_key],
            set_={name: upsert.excluded[name] for name in ("state", "horizon", "updated_at")})
        self._db.execute(upsert, [
            {**row, "workspace_id": workspace_id, "updated_at": now,
             "horizon": from_micros(row["horizon"]) if row["horizon"] is not None else None}
            for row in rows])

    def forget_rule(self, rule_id: str) -> None:
        self._db.execute(delete(t.alert_windows).where(t.alert_windows.c.rule_id == rule_id))

    def purge(self, horizon_before: datetime, limit: int) -> int:
        w = t.alert_windows.c
        doomed = (select(w.rule_id, w.group_key).where(w.horizon < horizon_before)
                  .limit(limit))
        return self._db.execute(delete(t.alert_windows).where(
            tuple_(w.rule_id, w.group_key).in_(doomed))).rowcount
