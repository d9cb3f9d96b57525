"""The settings a stream type needs besides its URL and credential: an S3 bucket's region
and access key id.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty for every existing stream (none of their types takes options): no row is
    # rewritten; added in place (a batch would copy the table on SQLite).
    op.add_column("streams", sa.Column("options", sa.JSON()))


def downgrade() -> None:
    op.drop_column("streams", "options")
