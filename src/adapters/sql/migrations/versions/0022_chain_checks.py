"""The latest scheduled check of each workspace's chain.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty: the workers add a row for each workspace as they first check its chain.
    op.create_table(
        "chain_checks",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  primary_key=True),
        sa.Column("checked_at", UtcDateTime()),
        sa.Column("valid", sa.Boolean),
        sa.Column("checked", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(40)),
        sa.Column("first_invalid_sequence", sa.BigInteger),
        sa.Column("event_id", sa.String(40)),
        sa.Column("detail", sa.String(40)),
        sa.Column("invalid_since", UtcDateTime()),
        sa.Column("claimed_until", UtcDateTime()),
        sa.Column("deleting", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_chain_checks_checked", "chain_checks", ["checked_at"])


def downgrade() -> None:
    op.drop_table("chain_checks")
