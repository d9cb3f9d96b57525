"""Repositories over one SQLAlchemy connection (the unit of work's transaction)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql import tables as t
from adapters.sql.erasure import erase_some
from adapters.sql.keyset import created_page
from adapters.sql.mappers import api_key_from, api_key_row, workspace_from, workspace_row
from application.ports.repositories.chains import RetainedChain
from application.ports.repositories.events import IdempotencyKeyTaken
from domain.api_keys import ApiKey
from domain.cursor import Position
from domain.hash_chain import GENESIS_HASH, ChainHead
from domain.idempotency import IdempotencyRecord
from domain.viewer_links import VIEWER_LINK_PREFIX
from domain.workspaces import Workspace, effective_retention_days


class SqlWorkspaceRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, workspace: Workspace) -> None:
        self._db.execute(insert(t.workspaces), workspace_row(workspace))

    def get(self, workspace_id: str) -> Workspace | None:
        row = self._db.execute(
            select(t.workspaces).where(t.workspaces.c.id == workspace_id)).mappings().first()
        return workspace_from(row) if row else None

    def update(self, workspace: Workspace) -> None:
        values = workspace_row(workspace)
        del values["id"], values["created_at"]
        self._db.execute(
            update(t.workspaces).where(t.workspaces.c.id == workspace.id).values(values))

    def list(self) -> list[Workspace]:
        rows = self._db.execute(
            select(t.workspaces).order_by(t.workspaces.c.created_at, t.workspaces.c.id))
        return [workspace_from(row) for row in rows.mappings()]

    def retention_periods(self) -> dict[str, int]:
        c = t.workspaces.c
        rows = self._db.execute(select(c.id, c.plan, c.retention_days).where(~c.legal_hold))
        return {workspace_id: days for workspace_id, plan, retention_days in rows
                if (days := effective_retention_days(plan, retention_days)) is not None}

    def erase_some(self, workspace_id: str, limit: int) -> int:
        return erase_some(self._db, workspace_id, limit)


_KEY_WITH_WORKSPACE = (
    select(t.api_keys, *[column.label(f"ws_{column.name}") for column in t.workspaces.c])
    .join(t.workspaces, t.workspaces.c.id == t.api_keys.c.workspace_id)
    .where(t.api_keys.c.secret_hash == bindparam("secret_hash")))
"""Built once: authentication runs on every request."""


_NOT_A_VIEWER_LINK = ~t.api_keys.c.id.startswith(VIEWER_LINK_PREFIX, autoescape=True)
"""Viewer links' credentials are listed as links (``/viewer-links``), not as API keys."""


class SqlApiKeyRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def add(self, key: ApiKey) -> None:
        self._db.execute(insert(t.api_keys), api_key_row(key))

    def get(self, workspace_id: str, key_id: str) -> ApiKey | None:
        row = self._db.execute(select(t.api_keys).where(
            t.api_keys.c.workspace_id == workspace_id,
            t.api_keys.c.id == key_id)).mappings().first()
        return api_key_from(row) if row else None

    def update(self, key: ApiKey) -> None:
        values = api_key_row(key)
        del values["id"], values["workspace_id"]
        self._db.execute(update(t.api_keys).where(
            t.api_keys.c.workspace_id == key.workspace_id, t.api_keys.c.id == key.id)
            .values(values))

    def page(self, workspace_id: str, order: str, after: Position | None,
             limit: int) -> list[ApiKey]:
        rows = created_page(self._db, t.api_keys, workspace_id, order, after, limit,
                            _NOT_A_VIEWER_LINK)
        return [api_key_from(row) for row in rows]

    def count(self, workspace_id: str) -> int:
        return self._db.execute(select(func.count()).select_from(t.api_keys).where(
            t.api_keys.c.workspace_id == workspace_id, _NOT_A_VIEWER_LINK)).scalar_one()

    def find_by_hash(self, secret_hash: str) -> tuple[ApiKey, Workspace] | None:
        row = self._db.execute(_KEY_WITH_WORKSPACE, {"secret_hash": secret_hash}) \
            .mappings().first()
        if row is None:
            return None
        workspace = {name[3:]: value for name, value in row.items() if name.startswith("ws_")}
        return api_key_from(row), workspace_from(workspace)

    def stamp_usage(self, key_id: str, now: datetime, not_since: datetime) -> None:
        column = t.api_keys.c.last_used_at
        self._db.execute(update(t.api_keys)
                         .where(t.api_keys.c.id == key_id,
                                or_(column.is_(None), column < not_since))
                         .values(last_used_at=now))

    def revoke_all(self, workspace_id: str, now: datetime) -> int:
        keys = t.api_keys.c
        return self._db.execute(update(t.api_keys).where(
            keys.workspace_id == workspace_id, keys.revoked_at.is_(None))
            .values(revoked_at=now)).rowcount


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


class SqlIdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def get(self, workspace_id: str, key: str) -> IdempotencyRecord | None:
        row = self._db.execute(select(t.idempotency_keys).where(
            t.idempotency_keys.c.workspace_id == workspace_id,
            t.idempotency_keys.c.key == key)).mappings().first()
        if row is None:
            return None
        return IdempotencyRecord(row["workspace_id"], row["key"], row["fingerprint"],
                                 tuple(row["event_ids"]), row["created_at"])

    def add(self, record: IdempotencyRecord, expired_by: datetime) -> None:
        """One statement: insert the key, or take over an expired record of it. A live
        record changes no row; a concurrent retry's uncommitted one makes this wait on the
        primary key, then see it committed (READ COMMITTED) - or insert after a rollback.
        (It was a delete, a savepoint, the insert and its release: four round trips.)"""
        table = t.idempotency_keys
        upsert = dialect_insert(self._db)(table).values(
            workspace_id=record.workspace_id, key=record.key, fingerprint=record.fingerprint,
            event_ids=list(record.event_ids), created_at=record.created_at)
        upsert = upsert.on_conflict_do_update(
            index_elements=[table.c.workspace_id, table.c.key],
            set_={name: upsert.excluded[name]
                  for name in ("fingerprint", "event_ids", "created_at")},
            where=table.c.created_at <= expired_by)
        # An INSERT's row count is kept only when asked for (an update's always is).
        if self._db.execute(upsert.execution_options(preserve_rowcount=True)).rowcount == 0:
            raise IdempotencyKeyTaken(record.key)

    def purge(self, expired_by: datetime, limit: int) -> int:
        table = t.idempotency_keys
        doomed = (select(table.c.workspace_id, table.c.key)
                  .where(table.c.created_at <= expired_by).limit(limit))
        result = self._db.execute(
            delete(table).where(tuple_(table.c.workspace_id, table.c.key).in_(doomed)))
        return result.rowcount


def dialect_insert(db: Connection):  # type: ignore[no-untyped-def]
    """The INSERT with ``ON CONFLICT`` of the connection's database."""
    return postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
