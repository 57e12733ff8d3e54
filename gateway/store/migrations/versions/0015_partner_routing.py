"""Pending records name their receiver: one dataset may go to many partners.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL: a record (a submission) from before this revision, for the one receiver its
    # dataset then had (gateway.exchange.sending gives it to that receiver's channel).
    with op.batch_alter_table("outbox_records") as batch:
        batch.add_column(sa.Column("receiver", sa.String(64), nullable=True))
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("receiver", sa.String(64), nullable=True))
    # A channel's pending records, oldest first: sealing reads them per (dataset, receiver).
    op.create_index(
        "ix_outbox_channel_pending", "outbox_records", ["dataset", "receiver", "batch_id", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_channel_pending", "outbox_records")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("receiver")
    with op.batch_alter_table("outbox_records") as batch:
        batch.drop_column("receiver")
