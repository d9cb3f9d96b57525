"""The JSON Schemas a workspace gives its actions' metadata.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: no existing workspace has schemas; added in place.
    op.add_column("workspaces", sa.Column("metadata_schemas", sa.Text()))


def downgrade() -> None:
    op.drop_column("workspaces", "metadata_schemas")
