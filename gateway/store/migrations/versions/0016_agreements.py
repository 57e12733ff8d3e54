"""Signed agreements taken up, updated and ended while a node runs, and refused files.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agreements",
        sa.Column("agreement_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("parties", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("taken_up_at", sa.String(40), nullable=False),
        sa.Column("ended_at", sa.String(40), nullable=True),
        sa.Column("ended_reason", sa.String(255), nullable=True),
        sa.Column("signatures", sa.Text(), nullable=True),
        sa.Column("generation", sa.Integer(), nullable=False),
    )
    op.create_index("ix_agreements_generation", "agreements", ["generation"])
    op.create_table(
        "agreement_refusals",
        sa.Column("file_name", sa.String(255), primary_key=True),
        sa.Column("file_sha256", sa.String(64), primary_key=True),
        sa.Column("agreement_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("refused_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("agreement_refusals")
    op.drop_index("ix_agreements_generation", table_name="agreements")
    op.drop_table("agreements")
