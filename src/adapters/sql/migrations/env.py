"""Alembic environment: always run on a connection handed over by ``adapters.sql.migrate``."""

from alembic import context

from adapters.sql.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
