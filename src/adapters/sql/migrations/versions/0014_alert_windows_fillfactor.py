"""Alert window states leave room on their pages to be rewritten in place.

Every chunk rewrites the window state of each (rule, group) it counts: hundreds of rows a
chunk with many rules. Packed pages (PostgreSQL's default fill of 100 %) left about half
of those updates no room on their page, so each wrote a new primary-key entry as well;
with 30 % kept free nearly all are heap-only (HOT), and a chunk's write of 566 states
took 7-9 ms instead of 10-13.5 (measured). Pages already full gain the room as they are
rewritten; ``VACUUM FULL alert_windows`` applies it at once. SQLite has no such setting.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE alert_windows SET (fillfactor = 70)")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("ALTER TABLE alert_windows RESET (fillfactor)")
