"""Accept events: validate all, store all as pending in one insert, then ask for processing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from application.ports.jobs import JobQueue
from application.ports.system import Clock, IdGenerator
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.errors import FieldError, ValidationFailed
from domain.events import Event, new_event


class IngestEvents:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 queue: JobQueue) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._ids = ids
        self._queue = queue

    def execute(self, workspace_id: str, bodies: list[dict[str, Any]], *,
                batch: bool = False,
                malformed: Mapping[int, list[FieldError]] | None = None) -> list[Event]:
        """All-or-nothing: one invalid event rejects the request and nothing is stored.

        ``malformed`` carries the errors an edge schema already found in some items, so one
        answer names every bad field of the batch, whichever layer caught it.

        The events are durable when this returns; the job is only a wake-up call, so a queue
        outage delays processing (upkeep re-queues) but never loses an accepted event.
        """
        events = self._build(workspace_id, bodies, batch=batch, malformed=malformed or {})
        with self._uow_factory() as uow:
            uow.events.add_many(events)
            uow.commit()
        self._queue.enqueue_processing([workspace_id])
        return events

    def _build(self, workspace_id: str, bodies: list[dict[str, Any]], *, batch: bool,
               malformed: Mapping[int, list[FieldError]]) -> list[Event]:
        received_at = self._clock.now()
        events, errors = [], []
        for index, body in enumerate(bodies):
            try:
                if index in malformed:
                    raise ValidationFailed(malformed[index])
                events.append(new_event(body, event_id=self._ids.new("evt"),
                                        workspace_id=workspace_id, received_at=received_at))
            except ValidationFailed as failure:
                errors.extend(error.prefixed(f"events[{index}]") if batch else error
                              for error in failure.errors)
        if errors:
            raise ValidationFailed(errors)
        return events
