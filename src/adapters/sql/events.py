"""The event repository: pending inserts, chunks to process, the chain in sequence order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import Connection, and_, delete, func, or_, select

from adapters.sql import bulk
from adapters.sql import tables as t
from adapters.sql.chain_reader import VerifiableChunk, postgres_chain, with_search_entries
from adapters.sql.export_writer import write_export
from adapters.sql.mappers import event_from
from adapters.sql.search import (
    count_query,
    narrow_count_query,
    narrow_select,
    search_query,
    stats_query,
)
from application.ports.repositories.events import WorkspaceBacklog
from domain.action_patterns import ActionPatterns
from domain.cursor import Position
from domain.event_search import EventFilters
from domain.event_stats import EventStats, Group, metadata_group
from domain.events import PENDING, PROCESSED, Event
from domain.exports import WrittenRows
from domain.hash_chain import ChainHead


class SqlEventRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add_many(self, events: Sequence[Event]) -> None:
        if events:
            bulk.insert_events(self._db, events)

    def get(self, workspace_id: str, event_id: str) -> Event | None:
        row = self._db.execute(select(t.events).where(
            t.events.c.workspace_id == workspace_id,
            t.events.c.id == event_id)).mappings().first()
        return event_from(row) if row else None

    def get_many(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        rows = self._db.execute(select(t.events).where(
            t.events.c.workspace_id == workspace_id, t.events.c.id.in_(list(event_ids))))
        return [event_from(row) for row in rows.mappings()]

    def pending_chunk(self, workspace_id: str, limit: int) -> list[Event]:
        rows = self._db.execute(
            select(t.events)
            .where(t.events.c.workspace_id == workspace_id, t.events.c.status == PENDING)
            .order_by(t.events.c.received_at, t.events.c.id)
            .limit(limit))
        return [event_from(row) for row in rows.mappings()]

    def mark_processed(self, events: Sequence[Event]) -> None:
        if events:
            bulk.mark_processed(self._db, events)

    def iter_chain(self, workspace_id: str, from_sequence: int, to_sequence: int | None,
                   chunk_size: int) -> Iterator[Event]:
        next_sequence = from_sequence
        while True:
            # Linked events only: one whose status was set back to pending is not part of
            # the chain as stored, whatever sequence it still carries.
            query = (select(t.events)
                     .where(t.events.c.workspace_id == workspace_id,
                            t.events.c.sequence >= next_sequence,
                            t.events.c.status == PROCESSED)
                     .order_by(t.events.c.sequence).limit(chunk_size))
            if to_sequence is not None:
                query = query.where(t.events.c.sequence <= to_sequence)
            chunk = [event_from(row) for row in self._db.execute(query).mappings()]
            yield from chunk
            if len(chunk) < chunk_size:
                return
            next_sequence = chunk[-1].linked.sequence + 1

    def verifiable_chain(self, workspace_id: str, from_sequence: int,
                         to_sequence: int | None, chunk_size: int) -> Iterator[VerifiableChunk]:
        if self._db.dialect.name == "postgresql":
            return postgres_chain(self._db, workspace_id, from_sequence, to_sequence,
                                  chunk_size)
        events = self.iter_chain(workspace_id, from_sequence, to_sequence, chunk_size)
        return with_search_entries(self._db, workspace_id, events, chunk_size)

    def filed_terms(self, workspace_id: str) -> tuple[int, int]:
        """The pending events' terms are found by event id, their workspace checked in a
        FILTER: as a condition, PostgreSQL would take it to the primary key, whose prefix
        is every term of the workspace, and scan that once per pending event."""
        terms = t.event_terms
        filed = self._db.execute(select(func.count()).select_from(terms).where(
            terms.c.workspace_id == workspace_id)).scalar_one()
        pending = self._db.execute(
            select(func.count().filter(terms.c.workspace_id == workspace_id))
            .select_from(t.events).join(terms, terms.c.event_id == t.events.c.id)
            .where(t.events.c.workspace_id == workspace_id,
                   t.events.c.status == PENDING)).scalar_one()
        return filed, pending

    def search(self, workspace_id: str, filters: EventFilters, order: str,
               after: Position | None, limit: int) -> list[Event]:
        rows = self._db.execute(search_query(workspace_id, filters, order, after, limit))
        return [event_from(row) for row in rows.mappings()]

    def count(self, workspace_id: str, filters: EventFilters) -> int:
        return self._db.execute(count_query(workspace_id, filters)).scalar_one()

    def stats(self, workspace_id: str, filters: EventFilters, group_by: str,
              limit: int) -> EventStats:
        rows = self._db.execute(stats_query(self._db.dialect.name, workspace_id, filters,
                                            group_by, limit)).all()
        as_json = metadata_group(group_by) is not None  # the values are JSON text
        return EventStats(group_by, int(rows[0].total) if rows else 0, tuple(
            Group(json.loads(value) if as_json and value is not None else value, count)
            for value, count, _ in rows))

    def count_narrow(self, workspace_id: str, filters: EventFilters,
                     after_sequence: int | None = None) -> int:
        return self._db.execute(
            narrow_count_query(workspace_id, filters, after_sequence)).scalar_one()

    def write_export(self, workspace_id: str, filters: EventFilters, format_: str,
                     sink: BinaryIO, on_progress: Callable[[], None]) -> WrittenRows:
        return write_export(self._db, workspace_id, filters, format_, sink, on_progress)

    def linked_batch(self, workspace_id: str, after_sequence: int, up_to_sequence: int,
                     actions: ActionPatterns, limit: int) -> list[Event]:
        c = t.events.c
        query = (select(t.events)
                 .where(c.workspace_id == workspace_id, c.sequence > after_sequence,
                        c.sequence <= up_to_sequence, c.status == PROCESSED)
                 .order_by(c.sequence).limit(limit))
        if not actions.everything:
            # substr, not LIKE: an action may hold "_", which LIKE reads as a wildcard.
            query = query.where(or_(c.action.in_(sorted(actions.exact)), *[
                func.substr(c.action, 1, len(prefix)) == prefix
                for prefix in actions.prefixes]))
        return [event_from(row) for row in self._db.execute(query).mappings()]

    def positions(self, workspace_id: str, filters: EventFilters, after_sequence: int,
                  up_to_sequence: int, limit: int) -> list[tuple[str, int]]:
        c = t.events.c
        query = (narrow_select(workspace_id, filters).with_only_columns(c.id, c.sequence)
                 .where(c.status == PROCESSED, c.sequence > after_sequence,
                        c.sequence <= up_to_sequence)
                 .order_by(c.sequence).limit(limit))
        return [(event_id, sequence) for event_id, sequence in self._db.execute(query)]

    def by_ids(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        if not event_ids:
            return []
        rows = self._db.execute(select(t.events).where(
            t.events.c.workspace_id == workspace_id, t.events.c.id.in_(list(event_ids)))
            .order_by(t.events.c.sequence))
        return [event_from(row) for row in rows.mappings()]

    def oldest_links(self, workspace_id: str, after_sequence: int,
                     limit: int) -> list[tuple[datetime, ChainHead]]:
        e = t.events.c
        rows = self._db.execute(
            select(e.occurred_at, e.sequence, e.hash)
            .where(e.workspace_id == workspace_id, e.sequence > after_sequence)
            .order_by(e.sequence).limit(limit))
        return [(occurred_at, ChainHead(sequence, hash_))
                for occurred_at, sequence, hash_ in rows]

    def oldest_retained(self) -> dict[str, datetime]:
        heads, events = t.chain_heads, t.events
        rows = self._db.execute(
            select(events.c.workspace_id, events.c.occurred_at)
            .join(heads, and_(heads.c.workspace_id == events.c.workspace_id,
                              events.c.sequence == heads.c.anchor_sequence + 1)))
        return {workspace_id: occurred_at for workspace_id, occurred_at in rows}

    def delete_linked(self, workspace_id: str, up_to_sequence: int) -> int:
        doomed = select(t.events.c.id).where(t.events.c.workspace_id == workspace_id,
                                             t.events.c.sequence <= up_to_sequence)
        self._db.execute(delete(t.event_terms).where(
            t.event_terms.c.workspace_id == workspace_id, t.event_terms.c.event_id.in_(doomed)))
        return self._db.execute(delete(t.events).where(
            t.events.c.workspace_id == workspace_id,
            t.events.c.sequence <= up_to_sequence)).rowcount

    def pending_backlog(self) -> tuple[int, datetime | None]:
        row = self._db.execute(select(func.count(), func.min(t.events.c.received_at)).where(
            t.events.c.status == PENDING)).one()
        return row[0], row[1]

    def backlog_by_workspace(self, limit: int) -> list[WorkspaceBacklog]:
        oldest = func.min(t.events.c.received_at)
        rows = self._db.execute(
            select(t.events.c.workspace_id, func.count(), oldest)
            .where(t.events.c.status == PENDING).group_by(t.events.c.workspace_id)
            .order_by(oldest, t.events.c.workspace_id).limit(limit))
        return [WorkspaceBacklog(*row) for row in rows]

    def workspaces_with_pending(self, received_before: datetime) -> list[str]:
        rows = self._db.execute(
            select(t.events.c.workspace_id).distinct()
            .where(t.events.c.status == PENDING, t.events.c.received_at < received_before))
        return list(rows.scalars())
