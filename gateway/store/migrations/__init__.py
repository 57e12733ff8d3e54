"""Alembic migrations of the node's database (see gateway.store.migrate)."""
