"""Alembic environment: the connection comes from ``store_sql.migrate`` (``config.attributes``)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table="reelforge_schema_version")
with context.begin_transaction():
    context.run_migrations()
