"""Search terms without a foreign key to their event.

Each term row's foreign key made PostgreSQL look its event up (and lock it) on every
insert, through a plan that each connection caches: planned while ``events`` was small,
it scans the whole table, and ingest slowed down with every event stored until an
autoanalyze replaced the plan. Terms are an index of their events, written in the same
statement and deleted explicitly before them (retention), so the key protected nothing
the code does not already guarantee.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# SQLite's key has no name; batch mode names the reflected one by this convention.
_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_SQLITE_NAME = "fk_event_terms_event_id_events"
_POSTGRES_NAME = "event_terms_event_id_fkey"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(_POSTGRES_NAME, "event_terms", type_="foreignkey")
        return
    with op.batch_alter_table("event_terms", naming_convention=_NAMES) as batch:
        batch.drop_constraint(_SQLITE_NAME, type_="foreignkey")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("event_terms") as batch:
        batch.create_foreign_key(_POSTGRES_NAME if postgres else _SQLITE_NAME, "events",
                                 ["event_id"], ["id"], ondelete="CASCADE")
