"""Each case names its peer: a hub reconciles its case ledger with each partner apart.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left NULL for the cases already in the ledger: the migration does not know which
    # party of their events is this node. A NULL peer counts with every peer, which is
    # exact at a node of one partner; `gateway cases rebuild` (and the next event of
    # each case) names it (docs/SERVICE_LEVELS.md).
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("peer", sa.String(64), nullable=True))
    op.create_index("ix_cases_peer_bucket", "cases", ["peer", "bucket", "case_number"])


def downgrade() -> None:
    op.drop_index("ix_cases_peer_bucket", table_name="cases")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("peer")
