"""Search: one index per filter column, and event terms for multi-valued filters.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import json

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = ("action", "actor_id", "actor_type", "ip_address", "country_code")


def upgrade() -> None:
    for column in _COLUMNS:
        op.create_index(f"ix_events_{column}", "events",
                        ["workspace_id", column, "occurred_at", "id"])
    op.create_index("ix_events_pending_occurred", "events", ["workspace_id", "occurred_at", "id"],
                    postgresql_where=sa.text("status = 'pending'"),
                    sqlite_where=sa.text("status = 'pending'"))
    op.create_table(
        "event_terms",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("term", sa.String(300), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.Column("event_id", sa.String(40), sa.ForeignKey("events.id", ondelete="CASCADE"),
                  nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "term", "occurred_at", "event_id",
                                name="pk_event_terms"),
    )
    op.create_index("ix_event_terms_event", "event_terms", ["event_id"])
    _backfill_terms()


def _backfill_terms() -> None:
    """Terms for events stored before this revision, computed by the domain's own rule."""
    from adapters.sql.mappers import event_from
    from domain.event_search import search_terms

    connection = op.get_bind()
    events = sa.table("events", sa.column("id"), sa.column("workspace_id"),
                      sa.column("occurred_at", UtcDateTime()), sa.column("action"),
                      sa.column("body"))
    terms = sa.table("event_terms", sa.column("workspace_id"), sa.column("term"),
                     sa.column("occurred_at", UtcDateTime()), sa.column("event_id"))
    rows = connection.execute(sa.select(events).execution_options(yield_per=5_000)).mappings()
    batch: list[dict] = []
    for row in rows:
        body = json.loads(row["body"])
        event = event_from({**row, "body": body, "received_at": row["occurred_at"],
                            "status": None, "geo": None, "sequence": None, "prev_hash": None,
                            "hash": None})
        batch += [{"workspace_id": row["workspace_id"], "term": term,
                   "occurred_at": row["occurred_at"], "event_id": row["id"]}
                  for term in search_terms(event)]
        if len(batch) >= 5_000:
            connection.execute(sa.insert(terms), batch)
            batch = []
    if batch:
        connection.execute(sa.insert(terms), batch)


def downgrade() -> None:
    op.drop_table("event_terms")
    op.drop_index("ix_events_pending_occurred", "events")
    for column in _COLUMNS:
        op.drop_index(f"ix_events_{column}", "events")
