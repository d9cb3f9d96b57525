"""The API key repository."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from adapters.sql import tables as t
from adapters.sql.keyset import created_page
from adapters.sql.mappers import api_key_from, api_key_row, workspace_from
from domain.api_keys import ApiKey
from domain.cursor import Position
from domain.viewer_links import VIEWER_LINK_PREFIX
from domain.workspaces import Workspace

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
