"""The transparency log: the tree's tiles, signed checkpoints, signed retention anchors,
and the checkpoint each delivery and notification carries.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

Chains linked before this revision get their tree here, leaf by leaf from the stored
events. Where retention had already removed events, their leaves cannot be computed: each
gets the hash of ``REMOVED_BEFORE_THE_LOG`` instead, so the tree stays a tree of the right
size and every retained event is proved as any other; those positions prove nothing.
"""

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

REMOVED_BEFORE_THE_LOG = b"auditrail: removed by retention before the transparency log"
_BATCH = 5_000


def upgrade() -> None:
    op.create_table(
        "tree_tiles",
        sa.Column("workspace_id", sa.String(40), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("tile", sa.BigInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "level", "tile", name="pk_tree_tiles"),
    )
    op.create_table(
        "checkpoints",
        sa.Column("workspace_id", sa.String(40), sa.ForeignKey("workspaces.id"),
                  nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(44), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "tree_size", name="pk_checkpoints"),
    )
    op.add_column("chain_heads", sa.Column("anchor_note", sa.Text()))
    op.add_column("deliveries", sa.Column("checkpoint", sa.Text()))
    op.add_column("alerts", sa.Column("checkpoint", sa.Text()))
    op.add_column("exports", sa.Column("first_sequence", sa.BigInteger()))
    op.add_column("exports", sa.Column("last_sequence", sa.BigInteger()))
    _backfill_trees()


def _backfill_trees() -> None:
    """Memory stays flat: leaves go in batches, full tiles are written as they fill."""
    from adapters.sql.mappers import event_from
    from domain.canonical_json import canonical_json
    from domain.merkle import leaf_hash
    from domain.tiles import HASH_SIZE, TILE_WIDTH, append_leaves

    connection = op.get_bind()
    heads = connection.execute(sa.text(
        "SELECT workspace_id, sequence, anchor_sequence FROM chain_heads WHERE sequence > 0"))
    tiles = sa.table("tree_tiles", sa.column("workspace_id"), sa.column("level"),
                     sa.column("tile"), sa.column("hashes", sa.LargeBinary()))
    events = sa.table("events", *(sa.column(name) for name in (
        "id", "workspace_id", "status", "sequence", "action", "prev_hash", "hash")),
        sa.column("occurred_at", UtcDateTime()), sa.column("received_at", UtcDateTime()),
        sa.column("body", sa.JSON()), sa.column("geo", sa.JSON()))
    for workspace_id, head, anchor in list(heads):
        size, edges = 0, {}

        def add(batch: list[bytes], workspace_id: str = workspace_id) -> None:
            nonlocal size, edges
            changed = append_leaves(size, edges, batch)
            full = [{"workspace_id": workspace_id, "level": level, "tile": index,
                     "hashes": data} for (level, index), data in changed.items()
                    if len(data) == TILE_WIDTH * HASH_SIZE]
            if full:
                connection.execute(sa.insert(tiles), full)
            edges = {key: data for key, data in {**edges, **changed}.items()
                     if len(data) < TILE_WIDTH * HASH_SIZE}
            size += len(batch)

        placeholder = leaf_hash(REMOVED_BEFORE_THE_LOG)
        for start in range(0, anchor, _BATCH):
            add([placeholder] * min(_BATCH, anchor - start))
        next_sequence = anchor + 1
        while next_sequence <= head:
            rows = connection.execute(
                sa.select(events).where(events.c.workspace_id == workspace_id,
                                        events.c.sequence >= next_sequence,
                                        events.c.sequence <= head)
                .order_by(events.c.sequence).limit(_BATCH)).mappings().all()
            if not rows or rows[0]["sequence"] != next_sequence:
                raise RuntimeError(f"workspace {workspace_id}: event {next_sequence} is "
                                   f"missing from its chain; repair it before upgrading")
            batch = [leaf_hash(canonical_json(event_from(row).core())) for row in rows]
            add(batch)
            next_sequence = rows[-1]["sequence"] + 1
        if edges:
            connection.execute(sa.insert(tiles), [
                {"workspace_id": workspace_id, "level": level, "tile": index, "hashes": data}
                for (level, index), data in edges.items()])


def downgrade() -> None:
    op.drop_column("exports", "last_sequence")
    op.drop_column("exports", "first_sequence")
    op.drop_column("alerts", "checkpoint")
    op.drop_column("deliveries", "checkpoint")
    op.drop_column("chain_heads", "anchor_note")
    op.drop_table("checkpoints")
    op.drop_table("tree_tiles")
