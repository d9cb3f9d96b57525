"""The chain check repository: the latest scheduled check of each workspace's chain."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)

from adapters.sql import tables as t
from adapters.sql.upsert import dialect_insert
from domain.chain_checks import LONGEST_CLAIM, ChainCheck
from domain.timestamps import CLOCK_SKEW

_c = t.chain_checks.c


def _unchecked(checked_before: datetime, now: datetime) -> ColumnElement[bool]:
    """``ChainCheck.unchecked_since``."""
    return or_(_c.checked_at.is_(None), _c.checked_at <= checked_before,
               _c.checked_at > now + CLOCK_SKEW)


def _checking(now: datetime) -> ColumnElement[bool]:
    """``ChainCheck.checking``."""
    return and_(_c.claimed_until > now, _c.claimed_until <= now + LONGEST_CLAIM + CLOCK_SKEW)


def _due(now: datetime, checked_before: datetime) -> ColumnElement[bool]:
    """``ChainCheck.due``."""
    return _unchecked(checked_before, now) & ~_c.deleting & or_(
        _c.claimed_until.is_(None), ~_checking(now))


class SqlChainCheckRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def claim_due(self, now: datetime, checked_before: datetime, until: datetime,
                  limit: int) -> list[str]:
        heads = t.chain_heads.c
        # A row for each chain that has none yet: a new workspace, or every one after the
        # upgrade that added the checks. One anti-join, usually inserting nothing.
        self._db.execute(dialect_insert(self._db)(t.chain_checks).from_select(
            ["workspace_id", "checked"],
            select(heads.workspace_id, literal(0)).where(
                ~exists().where(_c.workspace_id == heads.workspace_id)),
        ).on_conflict_do_nothing(index_elements=[_c.workspace_id]))
        if limit <= 0:
            return []
        chosen = list(self._db.execute(
            select(_c.workspace_id).where(_due(now, checked_before))
            .order_by(_c.checked_at.asc().nulls_first(), _c.workspace_id).limit(limit)
            .with_for_update(skip_locked=True)).scalars())
        if chosen:
            self._db.execute(update(t.chain_checks).where(_c.workspace_id.in_(chosen))
                             .values(claimed_until=until))
        return chosen

    def claimed(self, now: datetime) -> int:
        return self._db.execute(select(func.count()).where(_checking(now))).scalar_one()

    def start(self, workspace_id: str, until: datetime) -> ChainCheck | None:
        self._db.execute(dialect_insert(self._db)(t.chain_checks).from_select(
            ["workspace_id", "checked"],
            select(t.workspaces.c.id, literal(0)).where(t.workspaces.c.id == workspace_id),
        ).on_conflict_do_nothing(index_elements=[_c.workspace_id]))
        check = self.lock(workspace_id)
        if check is None or check.deleting:
            return check
        claimed = check.claimed(until)
        self.save(claimed)
        return claimed

    def lock(self, workspace_id: str) -> ChainCheck | None:
        row = self._db.execute(select(t.chain_checks).where(_c.workspace_id == workspace_id)
                               .with_for_update()).mappings().first()
        return ChainCheck(**row) if row is not None else None

    def get(self, workspace_id: str) -> ChainCheck | None:
        row = self._db.execute(select(t.chain_checks).where(_c.workspace_id == workspace_id)
                               ).mappings().first()
        return ChainCheck(**row) if row is not None else None

    def save(self, check: ChainCheck) -> None:
        values = asdict(check)
        self._db.execute(update(t.chain_checks)
                         .where(_c.workspace_id == values.pop("workspace_id")).values(values))

    def retire(self, workspace_id: str) -> None:
        insert = dialect_insert(self._db)(t.chain_checks).values(
            workspace_id=workspace_id, checked=0, deleting=True)
        self._db.execute(insert.on_conflict_do_update(index_elements=[_c.workspace_id],
                                                      set_={"deleting": True}))

    def invalid(self, limit: int) -> list[ChainCheck]:
        rows = self._db.execute(select(t.chain_checks).where(_c.valid.is_(False), ~_c.deleting)
                                .order_by(_c.invalid_since, _c.workspace_id).limit(limit))
        return [ChainCheck(**row) for row in rows.mappings()]

    def summary(self, checked_before: datetime | None,
                now: datetime) -> tuple[int, int | None]:
        invalid = self._db.execute(select(func.count()).where(
            _c.valid.is_(False), ~_c.deleting)).scalar_one()
        if checked_before is None:
            return invalid, None
        heads = t.chain_heads.c
        # Chains without a row have never been checked: due as well.
        due = self._db.execute(select(func.count()).select_from(t.chain_heads.outerjoin(
            t.chain_checks, _c.workspace_id == heads.workspace_id)).where(
            _c.workspace_id.is_(None) | _unchecked(checked_before, now))).scalar_one()
        return invalid, due
