"""``GET /events/stats``: how the events a search matches divide by one attribute."""

from __future__ import annotations

from application.ports.unit_of_work import UnitOfWorkFactory
from domain.event_search import EventFilters
from domain.event_stats import DEFAULT_GROUPS, EventStats


class CountEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory, time_limit: float | None = None) -> None:
        """``time_limit``: seconds the statement may run (None or 0: no limit)."""
        self._uow_factory = uow_factory
        self._time_limit = time_limit or None

    def execute(self, workspace_id: str, filters: EventFilters, group_by: str,
                limit: int = DEFAULT_GROUPS) -> EventStats:
        """One aggregate statement: its groups and its total come from the same rows."""
        with self._uow_factory(read_only=True, time_limit=self._time_limit) as uow:
            return uow.events.stats(workspace_id, filters, group_by, limit)
