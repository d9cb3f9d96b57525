"""The stream and delivery repositories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.keyset import count_of, created_page
from adapters.sql.mappers import sending_from, sending_row
from adapters.sql.sending import ready_to_send
from application.ports.repositories.streams import StreamProgress
from domain.cursor import Position
from domain.deliveries import PENDING, Delivery
from domain.streams import ACTIVE, PAUSED, Stream

_STREAM_FIELDS = ("id", "workspace_id", "name", "type", "url", "credential",
                  "credential_hint", "actions", "status", "created_at", "updated_at",
                  "position", "deliveries_made", "batch_seconds")
_DELIVERY_FIELDS = ("id", "stream_id", "workspace_id", "kind", "sequence", "status",
                    "event_count", "first_sequence", "last_sequence", "actions", "attempts",
                    "http_status", "error", "created_at", "last_attempt_at", "delivered_at",
                    "checkpoint")


def _stream_row(stream: Stream) -> dict[str, Any]:
    row = {name: getattr(stream, name) for name in _STREAM_FIELDS}
    row["actions"] = list(stream.actions) if stream.actions is not None else None
    row["options"] = dict(stream.options) or None
    return {**row, **sending_row(stream.sending)}


def _stream(row: RowMapping) -> Stream:
    values = {name: row[name] for name in _STREAM_FIELDS}
    values["credential"] = bytes(values["credential"])
    values["actions"] = tuple(values["actions"]) if values["actions"] is not None else None
    return Stream(**values, sending=sending_from(row), options=row["options"] or {})


def _delivery_row(delivery: Delivery) -> dict[str, Any]:
    row = {name: getattr(delivery, name) for name in _DELIVERY_FIELDS}
    row["actions"] = list(delivery.actions) if delivery.actions is not None else None
    return row


def _delivery(row: RowMapping) -> Delivery:
    values = {name: row[name] for name in _DELIVERY_FIELDS}
    values["actions"] = tuple(values["actions"]) if values["actions"] is not None else None
    return Delivery(**values)


_PENDING_DELIVERY = and_(t.deliveries.c.stream_id == t.streams.c.id,
                         t.deliveries.c.status == PENDING)


class SqlStreamRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, stream: Stream) -> None:
        self._db.execute(insert(t.streams), _stream_row(stream))

    def get(self, workspace_id: str, stream_id: str) -> Stream | None:
        return self._one(select(t.streams).where(t.streams.c.workspace_id == workspace_id,
                                                 t.streams.c.id == stream_id))

    def lock(self, stream_id: str) -> Stream | None:
        return self._one(select(t.streams).where(t.streams.c.id == stream_id)
                         .with_for_update())

    def update(self, stream: Stream) -> None:
        values = _stream_row(stream)
        del values["id"], values["workspace_id"]
        self._db.execute(update(t.streams).where(
            t.streams.c.workspace_id == stream.workspace_id, t.streams.c.id == stream.id)
            .values(values))

    def delete(self, workspace_id: str, stream_id: str) -> bool:
        owned = select(t.streams.c.id).where(t.streams.c.workspace_id == workspace_id,
                                             t.streams.c.id == stream_id)
        self._db.execute(delete(t.deliveries).where(t.deliveries.c.stream_id.in_(owned)))
        return self._db.execute(delete(t.streams).where(
            t.streams.c.workspace_id == workspace_id, t.streams.c.id == stream_id)).rowcount > 0

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[Stream]:
        return [_stream(row) for row in created_page(self._db, t.streams, workspace_id, order,
                                                     after, limit)]

    def count(self, workspace_id: str) -> int:
        return count_of(self._db, t.streams, workspace_id)

    def active_ids(self, workspace_id: str) -> list[str]:
        return list(self._db.execute(select(t.streams.c.id).where(
            t.streams.c.workspace_id == workspace_id, t.streams.c.status == ACTIVE)).scalars())

    def needing_delivery(self, now: datetime, limit: int) -> list[str]:
        s, heads = t.streams.c, t.chain_heads.c
        rows = self._db.execute(
            select(s.id).join(t.chain_heads, heads.workspace_id == s.workspace_id)
            .where(s.status != PAUSED,
                   ready_to_send(s, now),
                   or_(s.position < heads.sequence, exists().where(_PENDING_DELIVERY)))
            .order_by(s.id).limit(limit))
        return list(rows.scalars())

    def progress(self) -> list[StreamProgress]:
        s, heads, d, e = t.streams.c, t.chain_heads.c, t.deliveries, t.events
        first_owed = func.coalesce(d.c.first_sequence, s.position + 1)
        rows = self._db.execute(
            select(s.id, s.workspace_id, s.type, s.status,
                   heads.sequence - first_owed + 1, e.c.received_at)
            .join(t.chain_heads, heads.workspace_id == s.workspace_id)
            .outerjoin(d, _PENDING_DELIVERY)
            .outerjoin(e, and_(e.c.workspace_id == s.workspace_id,
                               e.c.sequence == first_owed))
            .where(or_(heads.sequence >= first_owed, s.status != ACTIVE))
            .order_by(s.id))
        return [StreamProgress(stream_id, workspace_id, type_, status, max(0, backlog),
                               received_at)
                for stream_id, workspace_id, type_, status, backlog, received_at in rows]

    def _one(self, query: Any) -> Stream | None:
        row = self._db.execute(query).mappings().first()
        return _stream(row) if row else None


class SqlDeliveryRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, delivery: Delivery) -> None:
        self._db.execute(insert(t.deliveries), _delivery_row(delivery))

    def update(self, delivery: Delivery) -> None:
        values = _delivery_row(delivery)
        del values["id"], values["workspace_id"], values["stream_id"]
        self._db.execute(update(t.deliveries).where(
            t.deliveries.c.workspace_id == delivery.workspace_id,
            t.deliveries.c.id == delivery.id).values(values))

    def pending(self, stream_id: str) -> Delivery | None:
        d = t.deliveries.c
        row = self._db.execute(select(t.deliveries).where(
            d.stream_id == stream_id, d.status == PENDING).order_by(d.created_at, d.id)
            .limit(1)).mappings().first()
        return _delivery(row) if row else None

    def page(self, workspace_id: str, stream_id: str, order: str, after: Position | None,
             limit: int) -> list[Delivery]:
        rows = created_page(self._db, t.deliveries, workspace_id, order, after, limit,
                            t.deliveries.c.stream_id == stream_id)
        return [_delivery(row) for row in rows]

    def count(self, workspace_id: str, stream_id: str) -> int:
        d = t.deliveries.c
        return self._db.execute(select(func.count()).where(
            d.workspace_id == workspace_id, d.stream_id == stream_id)).scalar_one()

    def held_from(self, workspace_id: str) -> int | None:
        d = t.deliveries.c
        return self._db.execute(select(func.min(d.first_sequence)).where(
            d.workspace_id == workspace_id, d.status == PENDING)).scalar_one()

    def purge(self, finished_before: datetime, limit: int) -> int:
        d = t.deliveries.c
        doomed = (select(d.id).where(d.created_at < finished_before, d.status != PENDING)
                  .limit(limit))
        return self._db.execute(delete(t.deliveries).where(d.id.in_(doomed))).rowcount
