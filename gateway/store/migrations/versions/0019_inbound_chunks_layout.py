"""Received chunks laid out for their size: the sender's signed chunk last, in a rowid table.

A row of ``inbound_chunks`` holds about 2 MB (the chunk's JWS, sealed at rest) beside a
few small columns. SQLite stores a row's columns in order, spilling what does not fit
in a page into a chain of overflow pages: a column after the large one is reached only
by walking that chain, and a table WITHOUT ROWID keeps whole rows in the b-tree it
balances on every insert. So the chunk's ``leaves`` (read when chunks that came out of
order are folded into the records tree) and ``case_facts`` (read by the case ledger)
come before ``signed``, and the table has a rowid, with its primary key as an index.
Measured: storing a chunk took 2-4 times the CPU and reading a batch's facts 40 times
the time before (docs/PERFORMANCE.md, "The receiver at twice the rate").

SQLite only: the table is copied into the new layout once, in the upgrade's
transaction. PostgreSQL keeps a large value out of line (TOAST) whatever the column
order, and is left as it is.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_COPY = (
    "INSERT INTO inbound_chunks_relaid (batch_id, idx, record_count, records_sha256, "
    "signer_kid, signed, leaves, case_facts) SELECT batch_id, idx, record_count, "
    "records_sha256, signer_kid, signed, leaves, case_facts FROM inbound_chunks"
)


def _columns(*, signed_last: bool) -> list[sa.Column[Any]]:
    head: list[sa.Column[Any]] = [
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("records_sha256", sa.String(64), nullable=False),
        sa.Column("signer_kid", sa.String(64), nullable=False),
    ]
    small: list[sa.Column[Any]] = [
        sa.Column("leaves", sa.LargeBinary(), nullable=False),
        sa.Column("case_facts", sa.Text(), nullable=True),
    ]
    signed: list[sa.Column[Any]] = [sa.Column("signed", sa.Text(), nullable=False)]
    return head + (small + signed if signed_last else signed + small)


def _rebuild(*, signed_last: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_table(
        "inbound_chunks_relaid",
        *_columns(signed_last=signed_last),
        sqlite_with_rowid=signed_last,
    )
    op.execute(_COPY)
    op.drop_table("inbound_chunks")
    op.rename_table("inbound_chunks_relaid", "inbound_chunks")


def upgrade() -> None:
    _rebuild(signed_last=True)


def downgrade() -> None:
    _rebuild(signed_last=False)
