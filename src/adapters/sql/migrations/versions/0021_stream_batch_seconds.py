"""How long a stream's batches wait for more events, when not the server's setting.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Null for every existing stream: they keep the server's setting; added in place.
    op.add_column("streams", sa.Column("batch_seconds", sa.Integer()))


def downgrade() -> None:
    op.drop_column("streams", "batch_seconds")
