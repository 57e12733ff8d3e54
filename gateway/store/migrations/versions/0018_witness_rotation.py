"""Witnessing by quorum: whose turn it is to witness, and cosignatures by witness.

``witness_rotation`` keeps where the next publication of a checkpoint starts
asking in the node's list of witnesses; the index finds the size a witness last
cosigned (its next consistency proof starts there) in one read.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "witness_rotation",
        sa.Column("origin", sa.String(255), primary_key=True),
        sa.Column("next_turn", sa.Integer, nullable=False),
    )
    op.create_index("ix_audit_cosignatures_witness_size", "audit_cosignatures", ["witness", "size"])


def downgrade() -> None:
    op.drop_index("ix_audit_cosignatures_witness_size", "audit_cosignatures")
    op.drop_table("witness_rotation")
