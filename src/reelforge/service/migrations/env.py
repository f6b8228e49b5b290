"""Alembic environment: the connection comes from ``store_sql.migrate`` (``config.attributes``).

Alembic executes this file with its context set up; imported any other way (the import-graph test imports
every service module) it does nothing, as ``alembic.context`` has no ``config`` then.
"""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, version_table="reelforge_schema_version")
    with context.begin_transaction():
        context.run_migrations()


if getattr(context, "_proxy", None) is not None:  # run by Alembic, not merely imported
    run_migrations()
