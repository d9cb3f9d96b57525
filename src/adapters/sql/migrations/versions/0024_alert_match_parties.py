"""Alert rules that match actor types, target ids and target types.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_COLUMNS = ("actor_types", "target_ids", "target_types")


def upgrade() -> None:
    # Nullable, no default: every existing rule leaves them out; added in place.
    for name in _COLUMNS:
        op.add_column("alert_rules", sa.Column(name, sa.JSON()))


def downgrade() -> None:
    for name in _COLUMNS:
        op.drop_column("alert_rules", name)
