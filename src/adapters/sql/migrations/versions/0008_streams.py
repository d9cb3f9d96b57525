"""Log streams and their delivery log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_table(
        "streams",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("credential", sa.LargeBinary(), nullable=False),
        sa.Column("credential_hint", sa.String(8), nullable=False),
        sa.Column("actions", sa.JSON()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("deliveries_made", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime()),
        sa.Column("last_error", sa.String(500)),
        sa.Column("last_delivered_at", UtcDateTime()),
        sa.Column("failing_since", UtcDateTime()),
        sa.Column("leased_until", UtcDateTime()),
    )
    op.create_index("ix_streams_workspace", "streams", ["workspace_id", "created_at", "id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("stream_id", sa.String(40), sa.ForeignKey("streams.id"), nullable=False),
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("sequence", sa.BigInteger()),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("first_sequence", sa.BigInteger()),
        sa.Column("last_sequence", sa.BigInteger()),
        sa.Column("actions", sa.JSON()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("http_status", sa.Integer()),
        sa.Column("error", sa.String(500)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_attempt_at", UtcDateTime()),
        sa.Column("delivered_at", UtcDateTime()),
    )
    op.create_index("ix_deliveries_stream", "deliveries", ["stream_id", "created_at", "id"])
    op.create_index("ix_deliveries_created", "deliveries", ["created_at"])
    op.create_index("ix_deliveries_pending", "deliveries", ["stream_id"],
                    postgresql_where=_PENDING, sqlite_where=_PENDING)
    op.create_index("ix_deliveries_held", "deliveries", ["workspace_id", "first_sequence"],
                    postgresql_where=_PENDING, sqlite_where=_PENDING)


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("streams")
