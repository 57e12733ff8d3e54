"""Peers' JWKS as last fetched: rotated keys the agreement pins, and key validity.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "peer_jwks",
        sa.Column("party", sa.String(64), primary_key=True),
        sa.Column("jwks", sa.Text(), nullable=False),
        sa.Column("jwks_sha256", sa.String(64), nullable=False),
        sa.Column("fetched_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("peer_jwks")
