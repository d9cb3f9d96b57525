"""Reading what is stored for search beside events, for verification to check.

A chunk of 1,000 events is one statement: each event's filter columns beside each of its
term rows. Terms are joined by their event's id, not by workspace, so a term filed under
another workspace (or time) still shows as this event's. On PostgreSQL the statement goes
to the driver with the ids as one array parameter: through SQLAlchemy, its thousand
placeholders and per-row type processing cost more than PostgreSQL's reading.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from adapters.sql import tables as t
from adapters.sql.driver import driver_errors
from domain.event_search import SearchEntries

_ENTRIES = """
    SELECT e.id, e.actor_id, e.actor_type, e.ip_address, e.country_code,
           t.workspace_id, t.term, t.occurred_at
    FROM events e LEFT JOIN event_terms t ON t.event_id = e.id
    WHERE e.workspace_id = %s AND e.id = ANY(%s)
"""


def read_search_entries(db: Connection, workspace_id: str,
                        event_ids: Sequence[str]) -> dict[str, SearchEntries]:
    if not event_ids:
        return {}
    if db.dialect.name == "postgresql":
        cursor = db.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with driver_errors(db, _ENTRIES), cursor:
            cursor.execute(_ENTRIES, (workspace_id, list(event_ids)))
            return _entries(cursor)
    events, terms = t.events, t.event_terms
    return _entries(db.execute(
        select(events.c.id, events.c.actor_id, events.c.actor_type, events.c.ip_address,
               events.c.country_code, terms.c.workspace_id, terms.c.term, terms.c.occurred_at)
        .select_from(events.outerjoin(terms, terms.c.event_id == events.c.id))
        .where(events.c.workspace_id == workspace_id, events.c.id.in_(event_ids))))


def _entries(rows: Iterable[Any]) -> dict[str, SearchEntries]:
    """One row per term (or one with no term) into each event's entries."""
    columns: dict[str, tuple[Any, ...]] = {}
    filed: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for row in rows:  # (event id, 4 columns, term workspace, term, term time)
        columns[row[0]] = tuple(row[1:5])
        if row[6] is not None:
            filed[row[0]].add(tuple(row[5:8]))
    return {event_id: SearchEntries(*found, terms=frozenset(filed.get(event_id, ())))
            for event_id, found in columns.items()}
