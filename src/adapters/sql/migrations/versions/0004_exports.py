"""Exports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("gzip", sa.Boolean(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime()),
        sa.Column("completed_at", UtcDateTime()),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("heartbeat_at", UtcDateTime()),
        sa.Column("row_count", sa.BigInteger()),
        sa.Column("size_bytes", sa.BigInteger()),
        sa.Column("sha256", sa.String(64)),
        sa.Column("error", sa.String(500)),
        sa.Column("attempts", sa.Integer(), nullable=False),
    )
    op.create_index("ix_exports_workspace", "exports", ["workspace_id", "created_at", "id"])
    op.create_index("ix_exports_status", "exports", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("exports")
