"""Deleting a workspace's rows: every table, children before the rows they point to, in
bounded chunks so that a workspace of millions of events never becomes one transaction
that holds its locks for minutes.

Measured (bench/deletion.py, 200,000 events: 800,802 rows): 3.8 s, where one plain
DELETE a table in a single transaction takes 0.9 s; 9.2 s when the chunks took rows in
no order and terms by their own key rather than with their events."""

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


def _walk(table: Table) -> tuple[ColumnElement[object], ...]:
    """The order to take a table's rows in: that of an index starting with
    ``workspace_id``, so that PostgreSQL walks the index. Taken in no order, a chunk can be
    a scan from the table's first page that steps over every row the chunks before it
    deleted (dead until vacuumed)."""
    if table is t.events:
        return (t.events.c.occurred_at, t.events.c.id)  # ix_events_occurred
    if table is t.alerts:
        return (t.alerts.c.triggered_at, t.alerts.c.id)  # ix_alerts_workspace
    key = tuple(table.primary_key.columns)
    return key if key[0].name == "workspace_id" else ()


_IN_ORDER = (t.events, t.idempotency_keys, t.deliveries, t.streams, t.alerts,
             t.alert_windows, t.alert_rules, t.exports, t.viewer_links, t.api_keys,
             t.cosignatures, t.log_witnesses, t.tree_tiles, t.checkpoints, t.latest_checkpoints,
             t.key_rotations, t.chain_heads, t.chain_checks, t.event_terms)
"""Every table holding a workspace's rows, each before any it refers to. Chain checks come
after the chain heads, since a worker adds a check's row for every chain it finds. Events
take their search terms with them; terms without an event (none, unless someone planted
them) go last, where only the last calls look: finding none costs a walk over every term
the events took, dead until vacuumed (0.1 s for 600,000)."""


def erase_some(db: Connection, workspace_id: str, limit: int) -> int:
    """Delete up to ``limit`` of the workspace's rows from the first table that still has
    some (events with their search terms), or, once none has, the workspace itself; return
    how many rows went (0: the workspace is gone)."""
    for table in _IN_ORDER:
        key = list(table.primary_key.columns)
        chosen = select(*key).where(_owned(table, workspace_id)).order_by(*_walk(table)) \
            .limit(limit)
        if table is t.events:  # their search terms first, found by event; should an
            # event arrive between the two statements, terms it leaves go in the last pass
            terms = t.event_terms.c
            deleted = db.execute(delete(t.event_terms).where(
                terms.workspace_id == workspace_id, terms.event_id.in_(chosen))).rowcount
        else:
            deleted = 0
        found = key[0].in_(chosen) if len(key) == 1 else tuple_(*key).in_(chosen)
        deleted += db.execute(delete(table).where(found)).rowcount
        if deleted:
            return deleted
    return db.execute(delete(t.workspaces).where(t.workspaces.c.id == workspace_id)).rowcount
