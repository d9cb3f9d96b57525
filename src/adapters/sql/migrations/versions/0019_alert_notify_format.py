"""The form an alert rule's notifications take: Auditrail's signed document, or a chat
message.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A default, so every existing rule keeps sending the document it sent, and no row is
    # rewritten; added in place (a batch would copy the table on SQLite).
    op.add_column("alert_rules", sa.Column("notify_format", sa.String(16), nullable=False,
                                           server_default="auditrail"))


def downgrade() -> None:
    op.drop_column("alert_rules", "notify_format")
