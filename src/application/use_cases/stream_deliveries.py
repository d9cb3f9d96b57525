"""A stream's delivery log, a test delivery on demand, and replay from a sequence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from application.activity import ActivityLog
from application.delivery_engine import SampleSender
from application.errors import NotFound
from application.pages import Page, page_of
from application.ports.delivery import Parcel, Route
from application.ports.jobs import JobQueue
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.activity import Actor, Change
from domain.cursor import DESC, Position, decode_cursor
from domain.deliveries import TEST, Delivery
from domain.errors import FieldError, ValidationFailed
from domain.samples import sample_event
from domain.streams import ReplayRefused, Stream


def _position(delivery: Delivery) -> Position:
    return Position(delivery.created_at, delivery.id)


class ListDeliveries:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def execute(self, workspace_id: str, stream_id: str, *, order: str = DESC, limit: int = 50,
                cursor: str | None = None) -> Page[Delivery]:
        after = decode_cursor(cursor, order) if cursor is not None else None
        with self._uow_factory(snapshot=True) as uow:
            if uow.streams.get(workspace_id, stream_id) is None:
                raise NotFound("stream", stream_id)
            rows = uow.deliveries.page(workspace_id, stream_id, order, after, limit + 1)
            total = uow.deliveries.count(workspace_id, stream_id)
        return page_of(rows, limit, order, total, _position)


class ReplayStream:
    def __init__(self, uow_factory: UnitOfWorkFactory, clock: Clock, queue: JobQueue,
                 activity: ActivityLog) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._queue = queue
        self._activity = activity

    def execute(self, workspace_id: str, stream_id: str, from_sequence: int,
                actor: Actor | None = None) -> Stream:
        """Move the stream back: every matching event from ``from_sequence`` on goes out
        again, in order, after the delivery in flight (if any)."""
        with self._uow_factory() as uow:
            stream = uow.streams.get(workspace_id, stream_id)
            if stream is None:
                raise NotFound("stream", stream_id)
            retained_from = uow.chains.retained(workspace_id).anchor.sequence + 1
            try:
                stream = stream.replayed(from_sequence, retained_from)
            except ReplayRefused as refused:
                raise ValidationFailed([FieldError("from_sequence", str(refused))]) from None
            uow.streams.update(stream)
            recorded = self._activity.record(uow, workspace_id, actor, Change(
                "log_stream.replayed", "log_stream", stream.id, stream.name,
                {"from_sequence": from_sequence}))
            uow.commit()
        self._queue.enqueue_deliveries([stream_id], force=True)
        if recorded:
            self._activity.wake(workspace_id)
        return stream


class SendTestDelivery(SampleSender):
    """``POST /streams/{id}/test``: one signed sample, sent now, its outcome logged and
    returned. It changes nothing of the stream: a failing stream stays failing until a
    real delivery succeeds or someone sets it active."""

    def execute(self, workspace_id: str, stream_id: str) -> Delivery:
        with self._uow_factory(read_only=True) as uow:
            stream = uow.streams.get(workspace_id, stream_id)
        if stream is None:
            raise NotFound("stream", stream_id)
        now = self._clock.now()
        delivery = Delivery(id=self._ids.new("dlv"), stream_id=stream.id,
                            workspace_id=workspace_id, kind=TEST, created_at=now,
                            event_count=1)
        parcel = Parcel(stream.id, delivery.id, 0, [self._sample(workspace_id, now)],
                        test=True)
        result = self._send_now(Route(stream.type, stream.url, stream.options), parcel,
                                stream.credential, stream.type)
        delivery = delivery.attempted(self._clock.now(), result.attempt)
        with self._uow_factory(single_write=True) as uow:
            uow.deliveries.add(delivery)
            uow.commit()
        return delivery

    def _sample(self, workspace_id: str, now: datetime) -> dict[str, Any]:
        return sample_event(self._ids.new("evt"), workspace_id, now, "auditrail.stream.test",
                            "A test delivery; no event was recorded.").document()
