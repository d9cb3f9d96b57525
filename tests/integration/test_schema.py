"""The Alembic migrations and the query-side table definitions must describe one schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from adapters.sql.tables import metadata
from tests.integration.stacks import Stack


def test_migrations_match_table_definitions(stack: Stack) -> None:
    with stack.container.engine().connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_search_terms_have_no_foreign_key(stack: Stack) -> None:
    """A key from each term to its event made every insert look the event up, through a
    plan PostgreSQL caches per connection and that may scan the whole table (0006)."""
    assert inspect(stack.container.engine()).get_foreign_keys("event_terms") == []
