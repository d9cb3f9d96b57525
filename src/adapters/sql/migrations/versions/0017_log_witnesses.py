"""The witnesses a log submits its checkpoints to, and their cosignatures.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_witnesses",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("verifier_key", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("held_size", sa.BigInteger),
        sa.Column("cosigned_size", sa.BigInteger),
        sa.Column("cosigned_at", UtcDateTime()),
        sa.Column("refused", sa.Boolean, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime()),
        sa.Column("last_error", sa.String(500)),
        sa.Column("last_delivered_at", UtcDateTime()),
        sa.Column("failing_since", UtcDateTime()),
        sa.Column("leased_until", UtcDateTime()),
    )
    op.create_index("ix_log_witnesses_workspace", "log_witnesses",
                    ["workspace_id", "created_at", "id"])
    op.create_table(
        "cosignatures",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("witness_id", sa.String(40), sa.ForeignKey("log_witnesses.id"),
                  nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "witness_id", "tree_size",
                                name="pk_cosignatures"),
    )
    op.create_index("ix_cosignatures_size", "cosignatures", ["workspace_id", "tree_size"])


def downgrade() -> None:
    op.drop_table("cosignatures")
    op.drop_table("log_witnesses")
