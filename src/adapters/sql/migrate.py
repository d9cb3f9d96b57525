"""Run the Alembic migrations programmatically (``auditrail db upgrade`` and embedded serve)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from adapters.sql.engine import TRANSACTION

_SCRIPTS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a no-op when it is already there."""
    config = _config()
    if engine.dialect.name == "postgresql":  # its connections default to autocommit
        engine = engine.execution_options(**TRANSACTION)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

