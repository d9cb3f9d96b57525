"""The INSERT ... ON CONFLICT of the connection's database."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(db: Connection) -> Callable[[Table], postgresql.Insert | sqlite.Insert]:
    """The INSERT with ``ON CONFLICT`` of the connection's database."""
    return postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
