"""Accept events: validate all, store all as pending in one insert, then ask for processing."""

from __future__ import annotations

from typing import Any

from application.ports.jobs import JobQueue
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.errors import ValidationFailed
from domain.events import Event, new_event


class IngestEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 queue: JobQueue) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._queue = queue

    def execute(self, workspace_id: str, bodies: list[dict[str, Any]], *,
                batch: bool = False) -> list[Event]:
        """All-or-nothing: one invalid event rejects the request and nothing is stored.

        The events are durable when this returns; the job is only a wake-up call, so a queue
        outage delays processing (upkeep re-queues) but never loses an accepted event.
        """
        events = self._build(workspace_id, bodies, batch=batch)
        with self._uow_factory() as uow:
            uow.events.add_many(events)
            uow.commit()
        self._queue.enqueue_processing([workspace_id])
        return events

    def _build(self, workspace_id: str, bodies: list[dict[str, Any]], *,
               batch: bool) -> list[Event]:
        received_at = self._clock.now()
        events, errors = [], []
        for index, body in enumerate(bodies):
            try:
                events.append(new_event(body, event_id=self._ids.new("evt"),
                                        workspace_id=workspace_id, received_at=received_at))
            except ValidationFailed as failure:
                errors.extend(error.prefixed(f"events[{index}]") if batch else error
                              for error in failure.errors)
        if errors:
            raise ValidationFailed(errors)
        return events
