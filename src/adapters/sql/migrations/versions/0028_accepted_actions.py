"""The actions a workspace accepts, when it lists them.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: every existing workspace accepts any action; added in place.
    op.add_column("workspaces", sa.Column("accepted_actions", sa.JSON()))


def downgrade() -> None:
    op.drop_column("workspaces", "accepted_actions")
