"""``GET /events``: one keyset page of a workspace's events, with the exact total."""

from __future__ import annotations

from application.pages import Page, page_of
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.cursor import DESC, Position, decode_cursor
from domain.event_search import EventFilters
from domain.events import PENDING, PROCESSED, Event


def _position(event: Event) -> Position:
    return Position(event.occurred_at, event.id)


class SearchEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, filters: EventFilters, *, order: str = DESC,
                limit: int = 50, cursor: str | None = None) -> Page[Event]:
        """A page and its total from one snapshot, so the two always agree."""
        after = decode_cursor(cursor, order) if cursor is not None else None
        with self._uow_factory(snapshot=True) as uow:
            rows = uow.events.search(workspace_id, filters, order, after, limit + 1)
            total = count_events(uow, workspace_id, filters)
        return page_of(rows, limit, order, total, _position)


def count_events(uow: UnitOfWork, workspace_id: str, filters: EventFilters) -> int:
    """Exact, and cheap when unfiltered: processed events are exactly the chain's
    sequences 1..head (gapless by construction), so only pending ones need counting."""
    if filters.only("status") and filters.status != PENDING:
        processed = uow.chains.get(workspace_id).sequence
        if filters.status == PROCESSED:
            return processed
        return processed + uow.events.count_pending(workspace_id)
    if filters.only("status"):
        return uow.events.count_pending(workspace_id)
    return uow.events.count(workspace_id, filters)
