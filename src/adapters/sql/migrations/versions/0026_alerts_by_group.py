"""Alerts listed by group (GET /alerts?group_key=): an index of their own.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_group", "alerts",
                    ["workspace_id", "group_key", "triggered_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_group", table_name="alerts")
