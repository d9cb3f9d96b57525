"""Alert rules, alerts and the rules' window states.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import JsonText, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("actor_ids", sa.JSON()),
        sa.Column("countries", sa.JSON()),
        sa.Column("countries_not_in", sa.JSON()),
        sa.Column("threshold_count", sa.Integer()),
        sa.Column("threshold_window_seconds", sa.Integer()),
        sa.Column("threshold_group_by", sa.String(20)),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.String(2048), nullable=False),
        sa.Column("credential", sa.LargeBinary(), nullable=False),
        sa.Column("credential_hint", sa.String(8), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime()),
        sa.Column("last_error", sa.String(500)),
        sa.Column("last_delivered_at", UtcDateTime()),
        sa.Column("failing_since", UtcDateTime()),
        sa.Column("leased_until", UtcDateTime()),
    )
    op.create_index("ix_alert_rules_workspace", "alert_rules",
                    ["workspace_id", "created_at", "id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("first_sequence", sa.BigInteger(), nullable=False),
        sa.Column("trigger_sequence", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("triggered_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("last_attempt_at", UtcDateTime()),
        sa.Column("delivered_at", UtcDateTime()),
    )
    op.create_index("ix_alerts_workspace", "alerts", ["workspace_id", "triggered_at", "id"])
    op.create_index("ix_alerts_rule", "alerts",
                    ["workspace_id", "rule_id", "triggered_at", "id"])
    op.create_index("ix_alerts_pending", "alerts", ["rule_id", "trigger_sequence"],
                    postgresql_where=_PENDING, sqlite_where=_PENDING)
    op.create_index("ix_alerts_held", "alerts", ["workspace_id", "first_sequence"],
                    postgresql_where=_PENDING, sqlite_where=_PENDING)
    op.create_table(
        "alert_windows",
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("group_key", sa.String(300), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("state", JsonText(), nullable=False),
        sa.Column("horizon", UtcDateTime()),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "group_key", name="pk_alert_windows"),
    )


def downgrade() -> None:
    op.drop_table("alert_windows")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
