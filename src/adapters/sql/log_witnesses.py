"""The log witness repository: the witnesses of each workspace's log, and their
cosignatures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, or_, select, type_coerce, update
from sqlalchemy.engine import RowMapping

from adapters.sql import tables as t
from adapters.sql.keyset import count_of, created_page
from adapters.sql.mappers import sending_from, sending_row
from adapters.sql.sending import ready_to_send
from adapters.sql.types import UtcDateTime
from adapters.sql.upsert import dialect_insert
from application.ports.repositories.transparency import Cosignature
from domain.cursor import Position
from domain.log_witnesses import FAILING, OK, PENDING, REFUSED, LogWitness
from domain.timestamps import CLOCK_SKEW

_FIELDS = ("id", "workspace_id", "url", "verifier_key", "created_at", "held_size",
           "cosigned_size", "cosigned_at", "refused")


def _row(witness: LogWitness) -> dict[str, Any]:
    return {**{name: getattr(witness, name) for name in _FIELDS},
            **sending_row(witness.sending)}


def _witness(row: RowMapping) -> LogWitness:
    return LogWitness(**{name: row[name] for name in _FIELDS}, sending=sending_from(row))


class SqlLogWitnessRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, witness: LogWitness) -> None:
        self._db.execute(insert(t.log_witnesses), _row(witness))

    def get(self, workspace_id: str, witness_id: str) -> LogWitness | None:
        return self._one(select(t.log_witnesses).where(
            t.log_witnesses.c.workspace_id == workspace_id,
            t.log_witnesses.c.id == witness_id))

    def lock(self, witness_id: str) -> LogWitness | None:
        return self._one(select(t.log_witnesses).where(t.log_witnesses.c.id == witness_id)
                         .with_for_update())

    def update(self, witness: LogWitness) -> None:
        values = _row(witness)
        del values["id"], values["workspace_id"]
        self._db.execute(update(t.log_witnesses).where(
            t.log_witnesses.c.workspace_id == witness.workspace_id,
            t.log_witnesses.c.id == witness.id).values(values))

    def delete(self, workspace_id: str, witness_id: str) -> bool:
        w, c = t.log_witnesses.c, t.cosignatures.c
        self._db.execute(delete(t.cosignatures).where(c.workspace_id == workspace_id,
                                                      c.witness_id == witness_id))
        return self._db.execute(delete(t.log_witnesses).where(
            w.workspace_id == workspace_id, w.id == witness_id)).rowcount > 0

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[LogWitness]:
        return [_witness(row) for row in created_page(self._db, t.log_witnesses,
                                                      workspace_id, order, after, limit)]

    def count(self, workspace_id: str) -> int:
        return count_of(self._db, t.log_witnesses, workspace_id)

    def due(self, now: datetime, limit: int) -> list[str]:
        """The join first, in a subquery ``OFFSET 0`` keeps whole, then the order: left to
        pair ``ORDER BY id LIMIT`` with the join, PostgreSQL walked the witnesses in id
        order with a key lookup each, to find the few due early - 31 ms every second in
        every worker with 20,000 witnesses and none due, where the join takes 7."""
        w, latest = t.log_witnesses.c, t.latest_checkpoints.c
        due = (select(w.id).join(t.latest_checkpoints, latest.workspace_id == w.workspace_id)
               .where(ready_to_send(w, now),
                      or_(w.held_size.is_(None), w.held_size < latest.tree_size,
                          (w.held_size == latest.tree_size)
                          & or_(w.cosigned_size.is_(None),
                                w.cosigned_size != latest.tree_size)))
               .offset(0).subquery())
        rows = self._db.execute(select(due.c.id).order_by(due.c.id).limit(limit))
        return list(rows.scalars())

    def keep(self, workspace_id: str, cosignature: Cosignature) -> None:
        c = t.cosignatures.c
        self._db.execute(dialect_insert(self._db)(t.cosignatures).on_conflict_do_nothing(
            index_elements=[c.workspace_id, c.witness_id, c.tree_size]),
            {"workspace_id": workspace_id, "witness_id": cosignature.witness_id,
             "tree_size": cosignature.tree_size, "line": cosignature.line})

    def prune(self, workspace_id: str) -> int:
        c, w = t.cosignatures.c, t.log_witnesses.c
        witnesses = select(func.count()).select_from(t.log_witnesses).where(
            w.workspace_id == workspace_id).scalar_subquery()
        by_all = select(func.max(c.tree_size)).where(c.workspace_id == workspace_id) \
            .group_by(c.tree_size).having(func.count() >= witnesses) \
            .order_by(c.tree_size.desc()).limit(1).scalar_subquery()
        return self._db.execute(delete(t.cosignatures).where(
            c.workspace_id == workspace_id, c.tree_size < by_all)).rowcount

    def statuses(self) -> dict[str, int]:
        w = t.log_witnesses.c
        rows = self._db.execute(
            select(w.refused, w.failing_since.is_not(None), w.cosigned_size.is_not(None),
                   func.count()).group_by(w.refused, w.failing_since.is_not(None),
                                          w.cosigned_size.is_not(None)))
        counts: dict[str, int] = {}
        for refused, failing, cosigned, count in rows:
            status = REFUSED if refused else FAILING if failing else OK if cosigned else PENDING
            counts[status] = counts.get(status, 0) + count
        return counts

    def troubled(self, limit: int) -> list[LogWitness]:
        w = t.log_witnesses.c
        rows = self._db.execute(
            select(t.log_witnesses).where(or_(w.refused, w.failing_since.is_not(None)))
            .order_by(w.refused.desc(), w.failing_since, w.id).limit(limit)).mappings()
        return [_witness(row) for row in rows]

    def furthest_behind(self, now: datetime, limit: int) -> list[tuple[LogWitness, datetime]]:
        """``LogWitness.owes_since`` in SQL: the witnesses behind their log's latest
        checkpoint (a join of two small tables), each with a key lookup of the first
        checkpoint it has not cosigned, in a subquery ``OFFSET 0`` keeps from being merged
        into the comparisons that read it (as ``_unsigned_logs`` does); the ``limit``
        owing longest, then, read whole."""
        w, latest, cp = t.log_witnesses.c, t.latest_checkpoints.c, t.checkpoints.c
        cosigned = func.coalesce(w.cosigned_size, 0)
        behind = (select(w.id, w.created_at.label("added_at"), w.cosigned_at,
                         select(cp.created_at)
                         .where(cp.workspace_id == w.workspace_id, cp.tree_size > cosigned)
                         .order_by(cp.tree_size).limit(1)
                         .scalar_subquery().label("signed_at"))
                  .join(t.latest_checkpoints, latest.workspace_id == w.workspace_id)
                  .where(cosigned < latest.tree_size).offset(0).subquery())
        added_at, signed_at = behind.c.added_at, behind.c.signed_at
        believed = case((signed_at.is_(None), func.coalesce(behind.c.cosigned_at, added_at)),
                        (signed_at > now + CLOCK_SKEW,
                         func.coalesce(behind.c.cosigned_at, added_at)),
                        else_=signed_at)
        since = type_coerce(case((believed < added_at, added_at), else_=believed),
                            UtcDateTime).label("since")
        top = select(behind.c.id, since).order_by(since, behind.c.id).limit(limit).subquery()
        rows = self._db.execute(
            select(t.log_witnesses, top.c.since).join(top, top.c.id == w.id)
            .order_by(top.c.since, top.c.id)).mappings()
        return [(_witness(row), row["since"]) for row in rows]

    def cosigned(self, workspace_id: str, witnesses: int) -> tuple[int, list[str]] | None:
        c, w = t.cosignatures.c, t.log_witnesses.c
        size = self._db.execute(
            select(c.tree_size).where(c.workspace_id == workspace_id)
            .group_by(c.tree_size).having(func.count() >= witnesses)
            .order_by(c.tree_size.desc()).limit(1)).scalar_one_or_none()
        if size is None:
            return None
        lines = self._db.execute(
            select(c.line).join(t.log_witnesses, w.id == c.witness_id)
            .where(c.workspace_id == workspace_id, c.tree_size == size)
            .order_by(w.created_at, w.id)).scalars()
        return size, list(lines)

    def _one(self, query: Any) -> LogWitness | None:
        row = self._db.execute(query).mappings().first()
        return _witness(row) if row is not None else None
