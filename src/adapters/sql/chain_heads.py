"""The chain head repository: where each workspace's chain ends, and where retention cut it."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from adapters.sql import tables as t
from application.ports.repositories.chains import RetainedChain
from domain.hash_chain import GENESIS_HASH, ChainHead


class SqlChainHeadRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def create(self, workspace_id: str) -> None:
        self._db.execute(insert(t.chain_heads),
                         {"workspace_id": workspace_id, "sequence": 0, "hash": GENESIS_HASH})

    def lock(self, workspace_id: str) -> ChainHead:
        row = self._db.execute(
            select(t.chain_heads.c.sequence, t.chain_heads.c.hash).where(
                t.chain_heads.c.workspace_id == workspace_id).with_for_update()).first()
        return ChainHead(row.sequence, row.hash) if row else ChainHead()

    def retained(self, workspace_id: str) -> RetainedChain:
        heads = t.chain_heads.c
        row = self._db.execute(
            select(heads.anchor_sequence, heads.anchor_hash, heads.sequence, heads.hash,
                   heads.anchor_note)
            .where(heads.workspace_id == workspace_id)).first()
        if row is None:
            return RetainedChain(ChainHead(), ChainHead())
        return RetainedChain(ChainHead(row.anchor_sequence, row.anchor_hash),
                             ChainHead(row.sequence, row.hash), row.anchor_note)

    def linked_counts(self) -> dict[str, int]:
        heads = t.chain_heads.c
        return dict(self._db.execute(
            select(heads.workspace_id, heads.sequence - heads.anchor_sequence)).all())

    def anchor(self, workspace_id: str) -> ChainHead:
        return self.retained(workspace_id).anchor

    def save_anchor(self, workspace_id: str, anchor: ChainHead,
                    note: str | None = None) -> None:
        self._db.execute(update(t.chain_heads)
                         .where(t.chain_heads.c.workspace_id == workspace_id)
                         .values(anchor_sequence=anchor.sequence, anchor_hash=anchor.hash,
                                 anchor_note=note))

    def adopt_anchor(self, workspace_id: str, anchor: ChainHead, note: str) -> bool:
        heads = t.chain_heads.c
        result = self._db.execute(update(t.chain_heads).where(
            heads.workspace_id == workspace_id, heads.anchor_sequence == anchor.sequence,
            heads.anchor_hash == anchor.hash, heads.anchor_note.is_(None))
            .values(anchor_note=note))
        return bool(result.rowcount)

    def signed_anchors(self, after: str | None, limit: int) -> list[tuple[str, str]]:
        heads = t.chain_heads.c
        query = select(heads.workspace_id, heads.anchor_note).where(
            heads.anchor_note.is_not(None))
        if after is not None:
            query = query.where(heads.workspace_id > after)
        rows = self._db.execute(query.order_by(heads.workspace_id).limit(limit))
        return [(row.workspace_id, row.anchor_note) for row in rows]

    def countersign_anchor(self, workspace_id: str, before: str, note: str) -> bool:
        heads = t.chain_heads.c
        result = self._db.execute(update(t.chain_heads).where(
            heads.workspace_id == workspace_id, heads.anchor_note == before)
            .values(anchor_note=note))
        return bool(result.rowcount)

    def save(self, workspace_id: str, head: ChainHead) -> None:
        self._db.execute(update(t.chain_heads)
                         .where(t.chain_heads.c.workspace_id == workspace_id)
                         .values(sequence=head.sequence, hash=head.hash))
