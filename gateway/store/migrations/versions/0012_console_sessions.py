"""Auditor console sessions kept on the server, so that ending one takes effect at once.

One row per signed-in browser: the SHA-256 of the random session id its cookie
carries, the client, the SHA-256 of the client's token, and when the session
began and was last used.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_sha256", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("seen_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_console_sessions_client", "console_sessions", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_client", "console_sessions")
    op.drop_table("console_sessions")
