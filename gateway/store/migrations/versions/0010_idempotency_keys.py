"""Idempotency keys of submissions, and where a submission's records are.

A submission keeps the client's ``Idempotency-Key`` and the SHA-256 of the
request body it came with, unique per client (NULL for submissions without a
key, and for every one made before). An index of the outbox records by
submission answers ``GET /api/v1/submissions/<id>``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("request_sha256", sa.String(64), nullable=True))
    op.create_index(
        "uq_submissions_idempotency_key",
        "submissions",
        ["client_id", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_index("ix_outbox_submission", "outbox_records", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_submission", "outbox_records")
    op.drop_index("uq_submissions_idempotency_key", "submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("request_sha256")
        batch.drop_column("idempotency_key")
