"""Read one event of the caller's workspace."""

from __future__ import annotations

from application.errors import NotFound
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.event_search import EventFilters
from domain.events import Event


class GetEvent:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, event_id: str,
                within: EventFilters | None = None) -> Event:
        """``within``: filters the caller may not read beyond (a viewer link's); an event
        outside them is as absent as another workspace's."""
        with self._uow_factory(read_only=True) as uow:
            event = uow.events.get(workspace_id, event_id)
        if event is None or (within is not None and not within.matches(event)):
            raise NotFound("event", event_id)
        return event
