"""Counted refusals and failed authentications per source address.

``refusal_counts`` holds the refusals of unauthenticated callers per kind and
interval until they are written to the audit log as one entry each;
``auth_failures`` the failed bearer-token authentications per source address
and window, which throttle that source (gateway.node.refusals).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refusal_counts",
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("interval_start", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("interval_end", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "auth_failures",
        sa.Column("scope", sa.String(16), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("window_end", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_auth_failures_window_end", "auth_failures", ["window_end"])


def downgrade() -> None:
    op.drop_index("ix_auth_failures_window_end", "auth_failures")
    op.drop_table("auth_failures")
    op.drop_table("refusal_counts")
