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
    # dataset then had (gateway.exchange.sending gives it to that receiver's channel),
    # when the dataset had no batch yet to say which that was.
    with op.batch_alter_table("outbox_records") as batch:
        batch.add_column(sa.Column("receiver", sa.String(64), nullable=True))
    # A pending record was going to the channel its dataset's batches went to: the
    # receiver of the dataset's latest batch names it now, while that is known. Left
    # NULL, it would go to whatever one receiver the dataset has when it is next
    # sealed, which after an agreement changed may be another partner.
    op.execute(
        sa.text(
            "UPDATE outbox_records SET receiver = ("
            " SELECT b.receiver FROM outbound_batches b"
            " WHERE b.dataset = outbox_records.dataset"
            " ORDER BY b.created_at DESC, b.batch_id DESC LIMIT 1"
            ") WHERE receiver IS NULL AND batch_id IS NULL"
        )
    )
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
