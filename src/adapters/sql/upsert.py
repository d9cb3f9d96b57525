"""The INSERT ... ON CONFLICT of the connection's database."""

from __future__ import annotations

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(db: Connection):  # type: ignore[no-untyped-def]
    """The INSERT with ``ON CONFLICT`` of the connection's database."""
    return postgresql.insert if db.dialect.name == "postgresql" else sqlite.insert
