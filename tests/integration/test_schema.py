"""The Alembic migrations and the query-side table definitions must describe one schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from adapters.sql.tables import metadata
from tests.integration.stacks import Stack


def test_migrations_match_table_definitions(stack: Stack) -> None:
    with stack.container.engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []
