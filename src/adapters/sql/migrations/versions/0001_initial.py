"""Workspaces, API keys, chain heads and events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import JsonText, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("plan", sa.String(20), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer()),
        sa.Column("ip_allowlist", sa.JSON(), nullable=False),
        sa.Column("retention_days", sa.Integer()),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "chain_heads",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  primary_key=True),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(8), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime()),
        sa.Column("revoked_at", UtcDateTime()),
        sa.Column("last_used_at", UtcDateTime()),
    )
    op.create_index("ix_api_keys_secret_hash", "api_keys", ["secret_hash"], unique=True)
    op.create_index("ix_api_keys_workspace", "api_keys", ["workspace_id", "created_at"])
    op.create_table(
        "events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("sequence", sa.BigInteger()),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("actor_id", sa.String(256), nullable=False),
        sa.Column("actor_type", sa.String(256), nullable=False),
        sa.Column("ip_address", sa.String(64)),
        sa.Column("country_code", sa.String(2)),
        sa.Column("body", JsonText(), nullable=False),
        sa.Column("geo", JsonText()),
        sa.Column("prev_hash", sa.String(64)),
        sa.Column("hash", sa.String(64)),
    )
    op.create_index("ix_events_chain", "events", ["workspace_id", "sequence"], unique=True)
    op.create_index("ix_events_occurred", "events", ["workspace_id", "occurred_at", "id"])
    op.create_index("ix_events_pending", "events", ["workspace_id", "received_at", "id"],
                    postgresql_where=sa.text("status = 'pending'"),
                    sqlite_where=sa.text("status = 'pending'"))


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("api_keys")
    op.drop_table("chain_heads")
    op.drop_table("workspaces")
