"""Locks between the transactions and processes of a node (and its replicas).

On PostgreSQL, advisory locks keyed by a hash of the lock's name; on SQLite every
write transaction already runs alone (file locks serve the rest, see
gateway.store.database.Store.try_lock).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["lock_key", "serialize"]


def lock_key(name: str) -> int:
    """A PostgreSQL advisory-lock key (a signed 64-bit integer) for a lock's name."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)


def serialize(conn: Connection, name: str) -> None:
    """Within a write transaction, let one transaction named ``name`` run at a time.

    On PostgreSQL, where transactions of several replicas run side by side,
    a transaction-level advisory lock; on SQLite every write transaction
    already runs alone.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(name)})
