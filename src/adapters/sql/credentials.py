"""Every sealed credential (log streams' and alert rules' webhook secrets and tokens), for
re-sealing them under a new secret key."""

from __future__ import annotations

from sqlalchemy import Connection, Table, select, update

from adapters.sql import tables as t
from application.ports.repositories.workspaces import SealedCredential

_TABLES: dict[str, Table] = {"stream": t.streams, "alert_rule": t.alert_rules}


class SqlSealedCredentialRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def page(self, after: SealedCredential | None, limit: int) -> list[SealedCredential]:
        """In (kind, id) order, locked until commit: a rule changed meanwhile waits."""
        found: list[SealedCredential] = []
        for kind, table in sorted(_TABLES.items()):
            if after is not None and kind < after.kind:
                continue
            query = select(table.c.id, table.c.credential).order_by(table.c.id)
            if after is not None and kind == after.kind:
                query = query.where(table.c.id > after.id)
            rows = self._db.execute(query.limit(limit - len(found)).with_for_update())
            found.extend(SealedCredential(kind, row.id, bytes(row.credential)) for row in rows)
            if len(found) >= limit:
                break
        return found

    def replace(self, credential: SealedCredential) -> None:
        table = _TABLES[credential.kind]
        self._db.execute(update(table).where(table.c.id == credential.id)
                         .values(credential=credential.sealed))
