"""Signed node-to-node requests: the request ids (jti) already taken, against replays.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_nonces",
        sa.Column("jti", sa.String(36), primary_key=True),
        sa.Column("expires_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_request_nonces_expires", "request_nonces", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_request_nonces_expires", "request_nonces")
    op.drop_table("request_nonces")
