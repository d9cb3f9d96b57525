"""Alert window states are forgotten by arrival time: each records when the last event that
changed it arrived (``touched``), and ``horizon`` becomes that plus eight days.

Upkeep used to delete a state a day after its window and cooldown ended in event time, so
history sent more than a week after it happened (a backfill) could lose its counts between
two chunks - and a worker that remembered them counted differently from one that read
them. States written before are given the time of their last write as ``touched``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_BATCH = 1_000
_KEPT = timedelta(days=8)
"""``domain.alert_evaluation.KEPT_SECONDS`` as it was when this shipped."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_WINDOWS = sa.table("alert_windows", sa.column("rule_id", sa.String),
                    sa.column("group_key", sa.String), sa.column("state", sa.Text),
                    sa.column("horizon", UtcDateTime()),
                    sa.column("updated_at", UtcDateTime()))


def upgrade() -> None:
    """In key order, a batch at a time: memory stays flat however many states there are."""
    bind = op.get_bind()
    w = _WINDOWS.c
    after = ("", "")
    rewrite = (sa.update(_WINDOWS)
               .where(w.rule_id == sa.bindparam("b_rule_id"),
                      w.group_key == sa.bindparam("b_group_key"))
               .values(state=sa.bindparam("b_state"), horizon=sa.bindparam("b_horizon")))
    while rows := bind.execute(
            sa.select(w.rule_id, w.group_key, w.state, w.updated_at)
            .where(sa.tuple_(w.rule_id, w.group_key) > sa.tuple_(*after))
            .order_by(w.rule_id, w.group_key).limit(_BATCH)).all():
        changes = []
        for rule_id, group_key, text, updated_at in rows:
            state = json.loads(text)
            if state.get("touched") is None:
                delta = updated_at - _EPOCH
                state["touched"] = ((delta.days * 86_400 + delta.seconds) * 1_000_000
                                    + delta.microseconds)
                changes.append({"b_rule_id": rule_id, "b_group_key": group_key,
                                "b_state": json.dumps(state, separators=(",", ":")),
                                "b_horizon": updated_at + _KEPT})
        if changes:
            bind.execute(rewrite, changes)
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    """Nothing to undo: older releases ignore ``touched``, and a later horizon only keeps a
    state longer."""
