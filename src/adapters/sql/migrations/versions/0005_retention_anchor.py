"""The retained chain's anchor: where verification starts once retention removed events.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chain_heads") as batch:
        batch.add_column(sa.Column("anchor_sequence", sa.BigInteger(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("anchor_hash", sa.String(64), nullable=False,
                                   server_default="0" * 64))


def downgrade() -> None:
    with op.batch_alter_table("chain_heads") as batch:
        batch.drop_column("anchor_hash")
        batch.drop_column("anchor_sequence")
