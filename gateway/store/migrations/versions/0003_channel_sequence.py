"""Batches carry their number on the channel (sender, receiver, dataset).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batches from before numbering keep 0, a number no batch is given.
    with op.batch_alter_table("outbound_batches") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("inbound_batches") as batch:
        batch.add_column(sa.Column("sequence", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_outbound_channel", "outbound_batches", ["receiver", "dataset", "sequence"])
    # Each number is taken once per channel (the batches from before numbering excepted).
    op.create_index(
        "uq_inbound_channel_sequence",
        "inbound_batches",
        ["sender", "dataset", "sequence"],
        unique=True,
        sqlite_where=sa.text("sequence > 0"),
        postgresql_where=sa.text("sequence > 0"),
    )


def downgrade() -> None:
    op.drop_index("uq_inbound_channel_sequence", "inbound_batches")
    op.drop_index("ix_outbound_channel", "outbound_batches")
    with op.batch_alter_table("inbound_batches") as batch:
        batch.drop_column("sequence")
    with op.batch_alter_table("outbound_batches") as batch:
        batch.drop_column("sequence")
