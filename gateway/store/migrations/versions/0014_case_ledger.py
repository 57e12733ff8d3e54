"""The case ledger: its inbox, events, steps, cases and monthly figures; the facts it reads.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_records") as batch:
        batch.add_column(sa.Column("case_facts", sa.Text(), nullable=True))
    with op.batch_alter_table("inbound_chunks") as batch:
        batch.add_column(sa.Column("case_facts", sa.Text(), nullable=True))
    op.create_table(
        "case_events",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("idx", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("receipt_at", sa.String(40), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_number"])
    op.create_table(
        "case_inbox",
        sa.Column("batch_id", sa.String(36), primary_key=True),
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(64), nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("receipt_at", sa.String(40), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("facts", sa.Text(), nullable=True),
        sa.Column("projected", sa.Integer(), nullable=False),
    )
    op.create_index("ix_case_inbox_order", "case_inbox", ["receipt_at", "batch_id"])
    op.create_table(
        "case_steps",
        sa.Column("case_number", sa.String(64), primary_key=True),
        sa.Column("step", sa.String(200), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("start_on", sa.String(10), nullable=False),
        sa.Column("start_basis", sa.String(16), nullable=False),
        sa.Column("due_on", sa.String(10), nullable=False),
        sa.Column("done_on", sa.String(10), nullable=True),
        sa.Column("response_days", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("opened_by", sa.String(48), nullable=False),
        sa.Column("closed_by", sa.String(48), nullable=True),
    )
    op.create_index("ix_case_steps_unit_due", "case_steps", ["unit", "due_on"])
    op.create_index(
        "ix_case_steps_open",
        "case_steps",
        ["due_on", "unit"],
        sqlite_where=sa.text("done_on IS NULL"),
        postgresql_where=sa.text("done_on IS NULL"),
    )
    op.create_table(
        "cases",
        sa.Column("case_number", sa.String(64), primary_key=True),
        sa.Column("unit", sa.String(32), nullable=True),
        sa.Column("opened_on", sa.String(10), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("next_due_on", sa.String(10), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("open_steps", sa.Integer(), nullable=False),
        sa.Column("late_steps", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("bucket", sa.String(2), nullable=False),
    )
    op.create_index("ix_cases_state", "cases", ["state", "case_number"])
    op.create_index("ix_cases_unit_state", "cases", ["unit", "state", "case_number"])
    op.create_index("ix_cases_opened", "cases", ["opened_on"])
    op.create_index("ix_cases_due", "cases", ["next_due_on"])
    op.create_index("ix_cases_bucket", "cases", ["bucket", "case_number"])
    op.create_table(
        "case_ledger_version",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_table(
        "case_step_stats",
        sa.Column("unit", sa.String(32), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("late", sa.Boolean(), primary_key=True),
        sa.Column("response_days", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_case_step_stats_month",
        "case_step_stats",
        ["month", "unit", "late", "response_days", "count"],
    )


def downgrade() -> None:
    op.drop_table("case_step_stats")
    op.drop_table("case_ledger_version")
    op.drop_table("cases")
    op.drop_table("case_steps")
    op.drop_table("case_inbox")
    op.drop_table("case_events")
    with op.batch_alter_table("inbound_chunks") as batch:
        batch.drop_column("case_facts")
    with op.batch_alter_table("outbox_records") as batch:
        batch.drop_column("case_facts")
