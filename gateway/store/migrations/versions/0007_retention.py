"""Retention: when a batch's records were purged (its digests stay).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("outbound_batches", "inbound_batches"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("purged_at", sa.String(40), nullable=True))


def downgrade() -> None:
    for table in ("inbound_batches", "outbound_batches"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("purged_at")
