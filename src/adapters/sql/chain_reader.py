"""A workspace's chain in sequence order, read from PostgreSQL through the driver.

Verification hashes every event it reads, and on PostgreSQL SQLAlchemy's result handling
(rows, type processors, mappings) cost more per event than the driver and ``json.loads``
together. The query is a constant; every value is a parameter. Other dialects read the
chain through SQLAlchemy (``events.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC

from sqlalchemy import Connection

from adapters.sql.driver import driver_errors
from domain.events import Event
from domain.hash_chain import MAX_SEQUENCE

_CHAIN = ("SELECT id, workspace_id, status, sequence, action, occurred_at, received_at, "
          "body, geo, prev_hash, hash FROM events "
          "WHERE workspace_id = %s AND sequence >= %s AND sequence <= %s "
          "ORDER BY sequence LIMIT %s")


def iter_chain(db: Connection, workspace_id: str, from_sequence: int, to_sequence: int | None,
               chunk_size: int) -> Iterator[Event]:
    """Keyset chunks of ``chunk_size`` by sequence: memory stays flat however long the chain."""
    last = MAX_SEQUENCE if to_sequence is None else to_sequence
    next_sequence = from_sequence
    while True:
        cursor = db.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with driver_errors(db, _CHAIN), cursor:
            rows = cursor.execute(_CHAIN, (workspace_id, next_sequence, last,
                                           chunk_size)).fetchall()
        yield from map(_event, rows)
        if len(rows) < chunk_size:
            return
        next_sequence = rows[-1][3] + 1


def _event(row: tuple) -> Event:
    """As ``mappers.event_from`` builds it from a SQLAlchemy row (UTC times, decoded JSON)."""
    (event_id, workspace_id, status, sequence, action, occurred_at, received_at, body, geo,
     prev_hash, hash_) = row
    parts = json.loads(body)
    return Event(id=event_id, workspace_id=workspace_id, action=action,
                 occurred_at=occurred_at.astimezone(UTC), received_at=received_at.astimezone(UTC),
                 actor=parts["actor"], targets=parts["targets"], context=parts["context"],
                 metadata=parts["metadata"], status=status,
                 geo=None if geo is None else json.loads(geo), sequence=sequence,
                 prev_hash=prev_hash, hash=hash_)
