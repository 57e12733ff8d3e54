"""Payloads encrypted at rest: seal the payloads stored before (gateway.crypto.atrest).

The columns stay TEXT; their values become compact JWEs under the node's
storage key. Rows written before are sealed here, with the key the node (or
``gateway db upgrade``) opened the database with; a database without such
rows (a new one) needs no key. The downgrade opens them again.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from gateway.crypto import atrest
from gateway.errors import GatewayError
from gateway.store.encrypted_columns import cipher_of

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("gateway.store.migrate")

# (table, primary key, payload column, rows per page: whole batches and chunks are large)
PAYLOADS = (
    ("outbox_records", ("seq",), "record", 1000),
    ("inbound_batches", ("seq",), "signed", 16),
    ("inbound_transfers", ("batch_id",), "manifest", 64),
    ("inbound_chunks", ("batch_id", "idx"), "signed", 8),
)


def _cipher() -> atrest.Cipher:
    cipher = cipher_of(op.get_bind().dialect)
    if cipher is None:
        raise GatewayError(
            "the database holds payloads stored before encryption at rest; sealing them "
            "needs the node's storage key: start the node, or run 'gateway db upgrade' "
            f"with its key directory ({atrest.STORAGE_KEY_FILE}) and passphrase"
        )
    return cipher


def _rewrite(convert: Callable[[str], str | None]) -> None:
    """Replace each payload value ``v`` for which ``convert`` gives a new one, page by page."""
    conn = op.get_bind()
    for name, keys, column, page in PAYLOADS:
        table = sa.table(name, *(sa.column(k) for k in keys), sa.column(column, sa.Text))
        key_columns = [table.c[k] for k in keys]
        change = (
            sa.update(table)
            .where(*(c == sa.bindparam(f"k_{c.name}") for c in key_columns))
            .values({column: sa.bindparam("v_new")})
        )
        last: tuple[object, ...] | None = None
        done = 0
        while True:
            query = sa.select(*key_columns, table.c[column]).order_by(*key_columns).limit(page)
            if last is not None:
                query = query.where(sa.tuple_(*key_columns) > sa.tuple_(*map(sa.literal, last)))
            rows = conn.execute(query).all()
            if not rows:
                break
            updates = []
            for row in rows:
                value = row[-1]
                if not value:
                    continue
                new = convert(value)
                if new is not None:
                    params = {f"k_{k}": v for k, v in zip(keys, row[:-1], strict=True)}
                    updates.append({**params, "v_new": new})
            if updates:
                conn.execute(change, updates)
                done += len(updates)
            last = tuple(rows[-1][:-1])
        if done:
            log.info("%s.%s: %d stored payloads rewritten", name, column, done)


def upgrade() -> None:
    _rewrite(lambda value: None if atrest.is_sealed(value) else str(_cipher().seal(value)))


def downgrade() -> None:
    _rewrite(lambda value: _cipher().open(value) if atrest.is_sealed(value) else None)
