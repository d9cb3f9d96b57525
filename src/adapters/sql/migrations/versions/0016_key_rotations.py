"""Rotation notes kept once signed.

A retired signing key's rotation note (its hand-over of a workspace's log to the key that
replaced it) could only be served while the retired key was configured, since it was
signed on each request; kept, it lets whatever pinned the retired key follow the log
after the key is removed.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "key_rotations",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("verifier_key", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "key_id", name="pk_key_rotations"),
    )


def downgrade() -> None:
    op.drop_table("key_rotations")
