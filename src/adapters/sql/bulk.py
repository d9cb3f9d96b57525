"""Set-based writes for the hot paths, one statement per batch whatever its size.

PostgreSQL gets ``COPY`` for new events and ``UPDATE … FROM json_to_recordset(…)`` for linked ones;
SQLite, which has no network round trip to save, gets ``executemany``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Connection, bindparam, insert, text, update

from adapters.sql import tables as t
from adapters.sql.driver import driver_errors
from adapters.sql.mappers import event_row
from domain.event_search import search_terms
from domain.events import PENDING, PROCESSED, Event

_TERM_COLUMNS = ("workspace_id", "term", "occurred_at", "event_id")
_COPY_COLUMNS = ("id", "workspace_id", "status", "action", "occurred_at", "received_at",
                 "actor_id", "actor_type", "ip_address", "body")


COPY_THRESHOLD = 20
"""Below this many rows one multi-row INSERT wins: COPY costs extra protocol round trips."""


def insert_events(db: Connection, events: Sequence[Event]) -> None:
    """The events and their search terms: one INSERT for a few, two COPYs for many."""
    terms = [(event.workspace_id, term, event.occurred_at, event.id)
             for event in events for term in search_terms(event)]
    if db.dialect.name == "postgresql" and len(events) >= COPY_THRESHOLD:
        raw = db.connection.driver_connection
        # Two COPYs: in a unit of work without a transaction of its own, they get one here.
        with raw.transaction() if raw.autocommit else nullcontext():  # type: ignore[union-attr]
            _copy_events(db, events)
            if terms:
                _copy(db, "event_terms", _TERM_COLUMNS, terms)
        return
    if db.dialect.name == "postgresql":
        _insert_statement(db, events, terms)
        return
    db.execute(insert(t.events), [event_row(event) for event in events])
    if terms:
        db.execute(insert(t.event_terms), [dict(zip(_TERM_COLUMNS, row, strict=True))
                                           for row in terms])


_INSERT_EVENTS = ("INSERT INTO events (id, workspace_id, status, action, occurred_at, "
                  "received_at, actor_id, actor_type, ip_address, body) VALUES ")
_INSERT_TERMS = "INSERT INTO event_terms (workspace_id, term, occurred_at, event_id) VALUES "
_EVENT_ROW = "(" + ", ".join(["%s"] * len(_COPY_COLUMNS)) + ")"
_TERM_ROW = "(%s, %s, %s, %s)"


def _insert_statement(db: Connection, events: Sequence[Event], terms: list[tuple]) -> None:
    """A few events: events and terms in one statement, so one round trip, and atomic on
    its own (a ``single_write`` unit of work runs it without BEGIN and COMMIT). The text
    is built from constants and row counts only; every value is a parameter."""
    query = _INSERT_EVENTS + ", ".join([_EVENT_ROW] * len(events))
    parameters = [value for event in events for value in _pending_row(event)]
    if terms:
        query = (f"WITH new_events AS ({query}) {_INSERT_TERMS}"
                 + ", ".join([_TERM_ROW] * len(terms)))
        parameters.extend(value for term in terms for value in term)
    # Straight to the driver: on the single-event path SQLAlchemy's execution context
    # would cost more CPU than the statement itself.
    cursor = db.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with driver_errors(db, query), cursor:
        cursor.execute(query, parameters)


def _pending_row(event: Event) -> tuple:
    return (event.id, event.workspace_id, PENDING, event.action, event.occurred_at,
            event.received_at, event.actor["id"], event.actor["type"], event.ip_address,
            json_text({"actor": event.actor, "targets": event.targets, "context": event.context,
                   "metadata": event.metadata}))


def _copy_events(db: Connection, events: Sequence[Event]) -> None:
    _copy(db, "events", _COPY_COLUMNS, [_pending_row(event) for event in events])


def _copy(db: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """COPY inside the unit of work's transaction: it commits or rolls back with the rest."""
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    cursor = db.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with driver_errors(db, statement), cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def mark_processed(db: Connection, events: Sequence[Event]) -> None:
    """Store geo, sequence and hashes; only rows still pending are touched."""
    if db.dialect.name == "postgresql":
        _update_from_json(db, events)
    else:
        _update_many(db, events)


_UPDATE_FROM_JSON = text("""
    UPDATE events SET status = 'processed', sequence = linked.sequence,
           prev_hash = linked.prev_hash, hash = linked.hash,
           geo = CAST(linked.geo AS text), country_code = linked.country_code
    FROM json_to_recordset(CAST(:linked AS json))
         AS linked (id text, sequence bigint, prev_hash text, hash text, geo json,
                    country_code text)
    WHERE events.workspace_id = :workspace_id AND events.id = linked.id
      AND events.status = 'pending'
""")


def _update_from_json(db: Connection, events: Sequence[Event]) -> None:
    """One statement, one parameter: the chunk as a JSON array the C encoder writes."""
    db.execute(_UPDATE_FROM_JSON, {
        "workspace_id": events[0].workspace_id,
        "linked": json_text([{"id": event.id, "sequence": event.sequence,
                          "prev_hash": event.prev_hash, "hash": event.hash, "geo": event.geo,
                          "country_code": event.country_code}
                         for event in events]),
    })


def _update_many(db: Connection, events: Sequence[Event]) -> None:
    statement = (
        update(t.events)
        .where(t.events.c.id == bindparam("b_id"), t.events.c.status == PENDING)
        .values(status=PROCESSED, sequence=bindparam("b_sequence"),
                prev_hash=bindparam("b_prev_hash"), hash=bindparam("b_hash"),
                geo=bindparam("b_geo"), country_code=bindparam("b_country_code")))
    db.execute(statement, [{  # geo goes through the column's JsonText type here
        "b_id": event.id, "b_sequence": event.sequence, "b_prev_hash": event.prev_hash,
        "b_hash": event.hash, "b_geo": event.geo,
        "b_country_code": event.country_code,
    } for event in events])


def json_text(value: Any) -> str:
    """The same text ``JsonText`` writes, so rows read back identically whichever path wrote."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

