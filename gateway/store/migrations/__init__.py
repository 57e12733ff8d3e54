"""Alembic migrations of the node's database (see gateway.store.migrate).

One migration per schema change in ``versions/``; gateway.store.migrate runs them.
A migration may import gateway.store (the tables, encrypted columns), gateway.crypto,
the top-level modules, SQLAlchemy and Alembic.
"""
