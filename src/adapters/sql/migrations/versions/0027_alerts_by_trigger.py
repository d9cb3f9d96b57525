"""Alerts go with their events: retention removes an alert with the last of its events,
by the sequence that triggered it, which this index finds without reading the
workspace's other alerts. Alerts whose events retention removed before are removed here,
a statement for each workspace retention has cut (pending ones stay: none should exist,
as they hold their events back).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_ALERTS = sa.table("alerts", sa.column("workspace_id", sa.String),
                   sa.column("trigger_sequence", sa.BigInteger),
                   sa.column("status", sa.String))
_HEADS = sa.table("chain_heads", sa.column("workspace_id", sa.String),
                  sa.column("anchor_sequence", sa.BigInteger))


def upgrade() -> None:
    op.create_index("ix_alerts_trigger", "alerts", ["workspace_id", "trigger_sequence"])
    bind = op.get_bind()
    a, h = _ALERTS.c, _HEADS.c
    for workspace_id, anchor in bind.execute(
            sa.select(h.workspace_id, h.anchor_sequence).where(h.anchor_sequence > 0)
            .order_by(h.workspace_id)).all():
        bind.execute(sa.delete(_ALERTS).where(
            a.workspace_id == workspace_id, a.trigger_sequence <= anchor,
            a.status != "pending"))


def downgrade() -> None:
    """The index only: the alerts removed had no events left."""
    op.drop_index("ix_alerts_trigger", table_name="alerts")
