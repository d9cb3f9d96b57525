"""Reading what is stored for search beside events, for verification to check.

A chunk of 1,000 events is one statement: each event's filter columns beside each of its
terms, with whether that term is filed under the event's own workspace and time. Terms
are joined by their event's id, not by workspace, so one filed under another workspace
still shows. On PostgreSQL the statement goes to the driver with the ids as one array
parameter: through SQLAlchemy, its thousand placeholders and per-row type processing
cost more than PostgreSQL's reading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, select

from adapters.sql import tables as t
from adapters.sql.driver import driver_errors
from domain.event_search import SearchEntries

_ENTRIES = """
    SELECT e.id, e.actor_id, e.actor_type, e.ip_address, e.country_code, t.term,
           t.workspace_id = e.workspace_id AND t.occurred_at = e.occurred_at
    FROM events e LEFT JOIN LATERAL (
        SELECT workspace_id, term, occurred_at FROM event_terms WHERE event_id = e.id
        OFFSET 0
    ) t ON true
    WHERE e.workspace_id = %s AND e.id = ANY(%s)
"""
"""``OFFSET 0`` keeps the lateral subquery from being flattened into a join, which
PostgreSQL may plan as a hash join over all of ``event_terms`` (every workspace's terms,
for each chunk: 320 ms a chunk at 1,000,000 events before autovacuum had analyzed the
table, as after a restore). Kept lateral, each event's terms are one probe of
``ix_event_terms_event``: 14-21 ms a chunk at 100,000 events (80 ms unanalyzed)."""


def read_search_entries(db: Connection, workspace_id: str,
                        event_ids: Sequence[str]) -> dict[str, SearchEntries]:
    if not event_ids:
        return {}
    if db.dialect.name == "postgresql":
        cursor = db.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with driver_errors(db, _ENTRIES), cursor:
            cursor.execute(_ENTRIES, (workspace_id, list(event_ids)))
            return _entries(cursor.fetchall())
    events, terms = t.events, t.event_terms
    in_place = and_(terms.c.workspace_id == events.c.workspace_id,
                    terms.c.occurred_at == events.c.occurred_at)
    return _entries(db.execute(
        select(events.c.id, events.c.actor_id, events.c.actor_type, events.c.ip_address,
               events.c.country_code, terms.c.term, in_place)
        .select_from(events.outerjoin(terms, terms.c.event_id == events.c.id))
        .where(events.c.workspace_id == workspace_id, events.c.id.in_(event_ids))).all())


def _entries(rows: Iterable[Any]) -> dict[str, SearchEntries]:
    """One row per term (or one without a term) into each event's entries."""
    columns: dict[str, tuple[Any, ...]] = {}
    filed: dict[str, list[str]] = defaultdict(list)
    misfiled: set[str] = set()
    for event_id, actor_id, actor_type, ip_address, country_code, term, in_place in rows:
        columns[event_id] = (actor_id, actor_type, ip_address, country_code)
        if term is not None:
            filed[event_id].append(term)
            if not in_place:
                misfiled.add(event_id)
    return {event_id: SearchEntries(*found, terms=frozenset(filed.get(event_id, ())),
                                    misfiled=event_id in misfiled)
            for event_id, found in columns.items()}
