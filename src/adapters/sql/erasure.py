"""Deleting a workspace's rows: every table, children before the rows they point to, in
bounded chunks so that a workspace of millions of events never becomes one transaction
that holds its locks for minutes."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Table, delete, select, tuple_

from adapters.sql import tables as t


def _owned(table: Table, workspace_id: str) -> ColumnElement[bool]:
    """The workspace's rows of ``table``, by a condition an index serves: deliveries and
    window states are found through their stream or rule (their own ``workspace_id`` has no
    index, and a chunk must not scan every workspace's rows)."""
    if table is t.deliveries:
        return t.deliveries.c.stream_id.in_(
            select(t.streams.c.id).where(t.streams.c.workspace_id == workspace_id))
    if table is t.alert_windows:
        return t.alert_windows.c.rule_id.in_(
            select(t.alert_rules.c.id).where(t.alert_rules.c.workspace_id == workspace_id))
    return table.c.workspace_id == workspace_id


_IN_ORDER = (t.event_terms, t.events, t.idempotency_keys, t.deliveries, t.streams, t.alerts,
             t.alert_windows, t.alert_rules, t.exports, t.viewer_links, t.api_keys,
             t.tree_tiles, t.checkpoints, t.latest_checkpoints, t.chain_heads)
"""Every table holding a workspace's rows, each before any it refers to."""


def erase_some(db: Connection, workspace_id: str, limit: int) -> int:
    """Delete up to ``limit`` of the workspace's rows from the first table that still has
    some, or, once none has, the workspace itself; return how many rows went (0: the
    workspace is gone)."""
    for table in _IN_ORDER:
        key = list(table.primary_key.columns)
        chosen = select(*key).where(_owned(table, workspace_id)).limit(limit)
        found = key[0].in_(chosen) if len(key) == 1 else tuple_(*key).in_(chosen)
        deleted = db.execute(delete(table).where(found)).rowcount
        if deleted:
            return deleted
    return db.execute(delete(t.workspaces).where(t.workspaces.c.id == workspace_id)).rowcount
