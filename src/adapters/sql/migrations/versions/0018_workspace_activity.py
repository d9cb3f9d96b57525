"""Whether a workspace records changes to itself as events in its own log.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A default, not a backfill: every existing workspace keeps recording nothing until its
    # admin turns it on, and adding the column rewrites no row. Not in a batch: SQLite adds
    # a column in place, where a batch would copy the table and drop the one every other
    # table's foreign keys point at.
    op.add_column("workspaces", sa.Column("record_activity", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("workspaces", "record_activity")  # in place too (SQLite 3.35 and later)
