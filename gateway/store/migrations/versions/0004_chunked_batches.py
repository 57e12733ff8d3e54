"""Chunked batches: a signed manifest over chunks, each its own envelope.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("outbound_batches", "inbound_batches"):
        # Batches from before chunking were sent whole: one chunk, named by records_sha256.
        with op.batch_alter_table(table) as batch:
            batch.alter_column("records_sha256", existing_type=sa.String(64), nullable=True)
            batch.add_column(sa.Column("records_root", sa.String(64), nullable=True))
            batch.add_column(
                sa.Column("chunk_count", sa.Integer(), nullable=False, server_default="1")
            )
    with op.batch_alter_table("outbound_batches") as batch:
        batch.add_column(
            sa.Column("chunks_acked", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "outbound_chunks",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("records_sha256", sa.String(64), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "inbound_transfers",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("records_root", sa.String(64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
        sa.Column("signer_kid", sa.String(64), nullable=False),
        sa.Column("chunks_received", sa.Integer(), nullable=False),
        sa.Column("bytes_received", sa.Integer(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "inbound_chunks",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("records_sha256", sa.String(64), nullable=False),
        sa.Column("signer_kid", sa.String(64), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.Column("leaves", sa.LargeBinary(), nullable=False),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("inbound_chunks")
    op.drop_table("inbound_transfers")
    op.drop_table("outbound_chunks")
    with op.batch_alter_table("outbound_batches") as batch:
        batch.drop_column("chunks_acked")
    for table in ("inbound_batches", "outbound_batches"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("chunk_count")
            batch.drop_column("records_root")
            batch.alter_column("records_sha256", existing_type=sa.String(64), nullable=False)
