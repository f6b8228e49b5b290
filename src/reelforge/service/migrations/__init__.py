"""Alembic migrations of the PostgreSQL job store (``store_sql.py`` runs them on open; no alembic.ini)."""
