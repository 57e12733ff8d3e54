"""Batches a pulling receiver refused, so that it does not fetch them again.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_refusals",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("refused_at", sa.String(40), nullable=False),
        sa.Column("reported_at", sa.String(40), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pull_refusals")
