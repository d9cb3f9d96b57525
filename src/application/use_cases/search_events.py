"""``GET /events``: one keyset page of a workspace's events, with the exact total."""

from __future__ import annotations

from application.counting import EventCounter
from application.pages import Page, page_of
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.cursor import DESC, Position, decode_cursor
from domain.event_search import EventFilters
from domain.events import Event


def _position(event: Event) -> Position:
    return Position(event.occurred_at, event.id)


class SearchEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory, counter: EventCounter,
                 time_limit: float | None = None) -> None:
        """``time_limit``: seconds its statements may run together (None or 0: no limit)."""
        self._uow_factory = uow_factory
        self._counter = counter
        self._time_limit = time_limit or None

    def execute(self, workspace_id: str, filters: EventFilters, *, order: str = DESC,
                limit: int = 50, cursor: str | None = None) -> Page[Event]:
        """A page and its total from one snapshot, so the two always agree."""
        after = decode_cursor(cursor, order) if cursor is not None else None
        with self._uow_factory(snapshot=True, time_limit=self._time_limit) as uow:
            rows = uow.events.search(workspace_id, filters, order, after, limit + 1)
            total = self._counter.count(uow, workspace_id, filters)
        return page_of(rows, limit, order, total, _position)

