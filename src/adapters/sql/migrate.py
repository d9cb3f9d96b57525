"""Run the Alembic migrations programmatically (``auditrail db upgrade`` and embedded serve)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import Engine, text

from adapters.sql.engine import TRANSACTION

_SCRIPTS = Path(__file__).with_name("migrations")
_LOCK = int.from_bytes(b"auditrl", "big")
"""The advisory lock key of schema upgrades (any constant other code does not use)."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there.

    On PostgreSQL, upgrades started at once (an init step on every replica) take turns
    under an advisory lock held to their commit; each after the first finds the schema
    current. Without it, all but one failed on PostgreSQL's catalogue.
    """
    config = _config()
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # its connections default to autocommit
        engine = engine.execution_options(**TRANSACTION)
    with engine.begin() as connection:
        if postgres:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)



def missing_revisions(engine: Engine) -> list[str]:
    """The revisions this release needs that the database lacks, oldest first.

    Empty when the database is at this release's head, and also when it is at a revision
    this release does not know: a newer release migrated it, and migrations only ever add
    what old processes can ignore (a rolling upgrade runs old beside new).
    """
    scripts = ScriptDirectory.from_config(_config())
    with engine.connect() as connection:
        applied = set(MigrationContext.configure(connection).get_current_heads())
    missing = []
    head = scripts.get_current_head()
    revision: Script | None = scripts.get_revision(head) if head is not None else None
    while revision is not None and revision.revision not in applied:
        missing.append(revision.revision)
        below = revision.down_revision
        revision = scripts.get_revision(below) if isinstance(below, str) else None
    if applied and revision is None:
        return []  # applied revisions are not in this release's history: a newer one
    return missing[::-1]
