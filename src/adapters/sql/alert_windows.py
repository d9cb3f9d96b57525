"""The alert window repository: what each rule counts, per group, between chunks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, text, tuple_

from adapters.sql import tables as t
from adapters.sql.bulk import json_text
from adapters.sql.upsert import dialect_insert
from domain.alert_evaluation import Key, WindowState
from domain.timestamps import from_micros


def _state_json(state: WindowState) -> dict[str, Any]:
    """The stored form is the state's own: times in microseconds, each counted event an
    array of three (JSON writes tuples as arrays)."""
    return {"events": state.events, "newest": state.newest, "quiet_until": state.quiet_until,
            "touched": state.touched}


def _state(document: Mapping[str, Any]) -> WindowState:
    return WindowState(events=tuple(map(tuple, document["events"])),
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
        wanted = [{"rule_id": rule_id, "group_key": group_key} for rule_id, group_key in keys]
        if not wanted:
            return {}
        w = t.alert_windows.c
        query = text(_LOAD[self._db.dialect.name]).columns(w.rule_id, w.group_key, w.state)
        rows = self._db.execute(query, {"workspace_id": workspace_id, "keys": json_text(wanted)})
        return {(rule_id, group_key): _state(state) for rule_id, group_key, state in rows}

    def save(self, workspace_id: str, states: Mapping[Key, WindowState],
             now: datetime) -> None:
        if not states:
            return
        rows: list[dict[str, Any]] = [
            {"rule_id": rule_id, "group_key": group_key, "state": _state_json(state),
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
