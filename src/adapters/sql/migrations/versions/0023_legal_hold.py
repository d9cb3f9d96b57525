"""Whether a legal hold keeps a workspace's events whatever its retention.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Off for every existing workspace: a default, no row rewritten, added in place.
    op.add_column("workspaces", sa.Column("legal_hold", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("workspaces", "legal_hold")
