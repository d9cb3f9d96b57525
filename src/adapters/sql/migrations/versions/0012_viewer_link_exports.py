"""Exports requested through a viewer link belong to that link: its reader lists, reads and
downloads only those.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exports") as batch:
        batch.add_column(sa.Column("viewer_link_id", sa.String(40),
                                   sa.ForeignKey("viewer_links.id",
                                                 name="fk_exports_viewer_link")))
    op.create_index("ix_exports_viewer_link", "exports",
                    ["viewer_link_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_exports_viewer_link", table_name="exports")
    with op.batch_alter_table("exports") as batch:
        batch.drop_constraint("fk_exports_viewer_link", type_="foreignkey")
        batch.drop_column("viewer_link_id")
