"""Viewer links: the forced filters and options of a link whose credential is an API key
holding the ``viewer`` scope.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "viewer_links",
        sa.Column("id", sa.String(40), sa.ForeignKey("api_keys.id"), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("allow_export", sa.Boolean(), nullable=False),
        sa.Column("title", sa.String(200)),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime()),
    )
    op.create_index("ix_viewer_links_workspace", "viewer_links",
                    ["workspace_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_viewer_links_workspace", table_name="viewer_links")
    op.drop_table("viewer_links")
