"""Alert rules that match values of the events' metadata.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: every existing rule leaves it out; added in place.
    op.add_column("alert_rules", sa.Column("match_metadata", sa.JSON()))


def downgrade() -> None:
    op.drop_column("alert_rules", "match_metadata")
