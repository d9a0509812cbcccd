"""Alembic environment: always run programmatically on a connection the exchange passes in
(``exchange.warehouse.migrate.migrate``); there is no alembic.ini to keep in sync."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table_schema="audit", include_schemas=True,
                  transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
