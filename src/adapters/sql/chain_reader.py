"""The chain as verification reads it: each event with what is stored for search beside it,
a chunk a statement.

On PostgreSQL one statement per chunk brings the events and, through a lateral aggregate,
each one's terms as an array with whether all are filed under its workspace and time: a
row per event rather than a row per term, and no second statement for the terms. It goes
to the driver directly: through SQLAlchemy, per-row type processing cost more than
PostgreSQL's reading, and on a connection of its own in pipeline mode, so that the server
reads the next chunk while the caller checks this one. Elsewhere (SQLite) the chunk's
terms come in a second statement.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, and_, select

from adapters.sql import tables as t
from adapters.sql.driver import driver_errors
from adapters.sql.shared_snapshot import sharing_snapshot
from adapters.sql.types import as_utc
from domain.event_search import SearchEntries
from domain.events import PROCESSED, Event

VerifiableChunk = Iterable[tuple[Event, SearchEntries | None]]

_CHAIN = """
    SELECT e.id, e.workspace_id, e.status, e.sequence, e.action, e.occurred_at,
           e.received_at, e.body, e.geo, e.prev_hash, e.hash, e.actor_id, e.actor_type,
           e.ip_address, e.country_code, t.terms, t.in_place
    FROM events e LEFT JOIN LATERAL (
        SELECT array_agg(term) AS terms,
               bool_and(workspace_id = e.workspace_id AND occurred_at = e.occurred_at)
                   AS in_place
        FROM event_terms WHERE event_id = e.id
    ) t ON true
    WHERE e.workspace_id = %(workspace)s AND e.status = %(processed)s
      AND e.sequence >= %(first)s AND (%(last)s::bigint IS NULL OR e.sequence <= %(last)s)
    ORDER BY e.sequence
    LIMIT %(limit)s
"""
"""Linked events only: one whose status was set back to pending is not part of the chain
as stored, whatever sequence it still carries. Terms are found by their event's id, not by
workspace, so one filed under another workspace still shows (as misfiled). An aggregate
lateral subquery cannot be flattened into a join: each event's terms stay one probe of
``ix_event_terms_event``, never a hash join over every workspace's terms."""


def postgres_chain(db: Connection, workspace_id: str, from_sequence: int,
                   to_sequence: int | None, chunk_size: int) -> Iterator[VerifiableChunk]:
    """Chunks of ``(event, its stored search entries)`` in sequence order, one statement
    each, as of ``db``'s snapshot.

    The next chunk's statement is sent before a chunk is handed over, so that PostgreSQL
    reads it on its own core while the caller checks this one. It goes down a second
    connection that shares the snapshot (``SET TRANSACTION SNAPSHOT``), in pipeline mode:
    the caller's own statements between chunks must not queue behind it on ``db``. A
    chunk's events are built as the caller takes them, so that each can be freed once
    checked.
    """
    parameters = {"workspace": workspace_id, "processed": PROCESSED, "first": from_sequence,
                  "last": to_sequence, "limit": chunk_size}
    with (sharing_snapshot(db) as (reader, driver), driver_errors(reader, _CHAIN),
          driver.pipeline()):
        cursor = _send(driver, parameters)
        while cursor is not None:
            rows = cursor.fetchall()
            cursor = (_send(driver, {**parameters, "first": rows[-1][3] + 1})
                      if len(rows) == chunk_size else None)
            if rows:
                yield map(_pair, rows)


def _send(driver: Any, parameters: dict[str, Any]) -> Any:
    """One chunk's statement, sent: its rows are read when fetched."""
    cursor = driver.cursor()
    cursor.execute(_CHAIN, parameters)
    return cursor


def with_search_entries(db: Connection, workspace_id: str, events: Iterator[Event],
                        chunk_size: int) -> Iterator[VerifiableChunk]:
    """The same from the chain's events, their entries read a chunk at a time (SQLite)."""
    chunk: list[Event] = []
    for event in events:
        chunk.append(event)
        if len(chunk) == chunk_size:
            yield _with_entries(db, workspace_id, chunk)
            chunk = []
    if chunk:
        yield _with_entries(db, workspace_id, chunk)


def _with_entries(db: Connection, workspace_id: str, chunk: list[Event]) -> VerifiableChunk:
    events, terms = t.events, t.event_terms
    in_place = and_(terms.c.workspace_id == events.c.workspace_id,
                    terms.c.occurred_at == events.c.occurred_at)
    rows = db.execute(
        select(events.c.id, events.c.actor_id, events.c.actor_type, events.c.ip_address,
               events.c.country_code, terms.c.term, in_place)
        .select_from(events.outerjoin(terms, terms.c.event_id == events.c.id))
        .where(events.c.workspace_id == workspace_id,
               events.c.id.in_([event.id for event in chunk])))
    stored = _entries(rows)
    return [(event, stored.get(event.id)) for event in chunk]


def _entries(rows: Iterable[Any]) -> dict[str, SearchEntries]:
    """One row per term (or one without a term) into each event's entries."""
    columns: dict[str, tuple[Any, Any, Any, Any]] = {}
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


def _pair(row: tuple[Any, ...]) -> tuple[Event, SearchEntries]:
    (event_id, workspace_id, status, sequence, action, occurred_at, received_at, body, geo,
     prev_hash, hash_, actor_id, actor_type, ip_address, country_code, terms,
     in_place) = row
    parts = json.loads(body)
    event = Event(id=event_id, workspace_id=workspace_id, action=action,
                  occurred_at=as_utc(occurred_at), received_at=as_utc(received_at),
                  actor=parts["actor"], targets=parts["targets"], context=parts["context"],
                  metadata=parts["metadata"], status=status,
                  geo=None if geo is None else json.loads(geo), sequence=sequence,
                  prev_hash=prev_hash, hash=hash_)
    entries = SearchEntries(actor_id, actor_type, ip_address, country_code,
                            terms=frozenset(terms or ()), misfiled=in_place is False)
    return event, entries
