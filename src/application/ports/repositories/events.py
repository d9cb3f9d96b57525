"""Events, and the idempotency keys they were accepted under."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from domain.action_patterns import ActionPatterns
from domain.cursor import Position
from domain.event_search import EventFilters, SearchEntries
from domain.event_stats import EventStats
from domain.events import Event
from domain.exports import WrittenRows
from domain.hash_chain import ChainHead
from domain.idempotency import IdempotencyRecord


@dataclass(frozen=True)
class WorkspaceBacklog:
    """One workspace's pending events: how many, and when the oldest arrived."""

    workspace_id: str
    pending_events: int
    oldest_received_at: datetime


class EventRepository(Protocol):
    def add_many(self, events: Sequence[Event]) -> None:
        """Store new pending events in one set-based insert, atomically even outside a
        transaction (a ``single_write`` unit of work)."""
        ...

    def get(self, workspace_id: str, event_id: str) -> Event | None: ...

    def get_many(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        """The workspace's events among ``event_ids`` (at most a batch's 1,000), in one
        query, in no particular order; ids it does not hold are left out."""
        ...

    def pending_chunk(self, workspace_id: str, limit: int) -> list[Event]:
        """The oldest pending events of one workspace, in arrival order."""
        ...

    def mark_processed(self, events: Sequence[Event]) -> None:
        """Store geo, sequence and hashes of events just linked into the chain."""
        ...

    def iter_chain(self, workspace_id: str, from_sequence: int, to_sequence: int | None,
                   chunk_size: int) -> Iterator[Event]:
        """Processed events in sequence order, fetched lazily in chunks."""
        ...

    def verifiable_chain(self, workspace_id: str, from_sequence: int,
                         to_sequence: int | None, chunk_size: int,
                         ) -> Iterator[Iterable[tuple[Event, SearchEntries | None]]]:
        """``iter_chain``'s events in chunks, each beside what is stored for search beside
        it (None when nothing is): what verification reads, in as few statements as the
        database allows. A chunk may be built as it is iterated, and be iterable once."""
        ...

    def filed_terms(self, workspace_id: str) -> tuple[int, int]:
        """How many term rows are filed under the workspace, and how many of those belong
        to its pending events."""
        ...

    def search(self, workspace_id: str, filters: EventFilters, order: str,
               after: Position | None, limit: int) -> list[Event]:
        """Up to ``limit`` matching events after ``after`` in ``(occurred_at, id)`` order."""
        ...

    def count(self, workspace_id: str, filters: EventFilters) -> int: ...

    def stats(self, workspace_id: str, filters: EventFilters, group_by: str,
              limit: int) -> EventStats:
        """The ``limit`` largest groups of the matching events by ``group_by`` (one of
        ``domain.event_stats.GROUPS``), and how many matched in all: one aggregate over
        the filtered range, whatever its size."""
        ...

    def count_narrow(self, workspace_id: str, filters: EventFilters,
                     after_sequence: int | None = None) -> int:
        """Like ``count`` but for a small slice: pending events (``filters.status``), or
        events linked after ``after_sequence``; cost follows the slice, not the matches."""
        ...

    def write_export(self, workspace_id: str, filters: EventFilters, format_: str,
                     sink: BinaryIO, on_progress: Callable[[], None]) -> WrittenRows:
        """Write the processed events matching ``filters``, in sequence order, as NDJSON
        lines or CSV rows (``domain.export_rows`` defines both); return how many, and the
        first and last sequence. Streams: memory stays flat whatever the count.
        ``on_progress`` is called now and then."""
        ...

    def pending_backlog(self) -> tuple[int, datetime | None]:
        """All workspaces: how many events are pending, and when the oldest arrived."""
        ...

    def backlog_by_workspace(self, limit: int) -> list[WorkspaceBacklog]:
        """The ``limit`` workspaces whose oldest pending event has waited longest, that
        one first: where an operator looks when processing falls behind."""
        ...

    def linked_batch(self, workspace_id: str, after_sequence: int, up_to_sequence: int,
                     actions: ActionPatterns, limit: int) -> list[Event]:
        """Up to ``limit`` processed events with sequences in ``(after, up_to]`` whose
        action matches, in sequence order: what a stream delivers next, or again."""
        ...

    def positions(self, workspace_id: str, filters: EventFilters, after_sequence: int,
                  up_to_sequence: int, limit: int) -> list[tuple[str, int]]:
        """(id, sequence) of the processed events matching ``filters`` in
        ``(after, up_to]``, in sequence order: what a filtered export holds, for its
        evidence."""
        ...

    def by_ids(self, workspace_id: str, event_ids: Sequence[str]) -> list[Event]:
        """These events of the workspace (those that exist), in sequence order."""
        ...

    def oldest_links(self, workspace_id: str, after_sequence: int,
                     limit: int) -> list[tuple[datetime, ChainHead]]:
        """When each of the first ``limit`` processed events after ``after_sequence``
        occurred, and its place in the chain, in chain order: all retention decides by,
        without reading the events' documents."""
        ...

    def oldest_retained(self) -> dict[str, datetime]:
        """Per workspace, ``occurred_at`` of the first event after its retention anchor."""
        ...

    def delete_linked(self, workspace_id: str, up_to_sequence: int) -> int:
        """Delete processed events with sequence <= ``up_to_sequence`` (and their terms)."""
        ...

    def workspaces_with_pending(self, received_before: datetime) -> list[str]:
        """Workspaces holding pending events that arrived before ``received_before``."""
        ...


class IdempotencyKeyTaken(Exception):
    """Another request recorded the same key first (raised by ``IdempotencyRepository.add``)."""


class IdempotencyRepository(Protocol):
    def get(self, workspace_id: str, key: str) -> IdempotencyRecord | None: ...

    def add(self, record: IdempotencyRecord, expired_by: datetime) -> None:
        """Record a key, replacing a record created at or before ``expired_by``; raise
        ``IdempotencyKeyTaken`` if a live one exists (concurrent retries race here, and
        exactly one of them wins)."""
        ...

    def purge(self, expired_by: datetime, limit: int) -> int:
        """Delete up to ``limit`` records created at or before ``expired_by``; return how many."""
        ...
