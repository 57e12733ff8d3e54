"""Outbox records' content apart from the rows that claiming a batch rewrites.

Claiming a batch sets ``outbox_records.batch_id`` on each of its records. With the
record's content (1-2 KB sealed at rest) in the same row, SQLite rewrote whole
pages of content for every claimed record and PostgreSQL wrote a new version of each
whole row: for 100,000 records some 430 MB of write-ahead log on SQLite. The content
now lives in ``outbox_record_bodies`` under the record's ``seq`` (deleted with its
record), and a claim rewrites rows of about 200 bytes (docs/PERFORMANCE.md, "Eighth
round").

The content is copied once, in the upgrade's transaction. On SQLite the column is
dropped by copying ``outbox_records`` into a table without it (Alembic's batch mode),
before the table that refers to it exists: dropping a table that another refers to
would delete the referring rows with it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_KEPT = "outbox_record_bodies_kept"
_KEEP = f"INSERT INTO {_KEPT} (seq, record) SELECT seq, record FROM outbox_records"  # noqa: S608
_MOVE = "INSERT INTO outbox_record_bodies (seq, record) SELECT seq, record FROM {source}"


def _bodies() -> None:
    op.create_table(
        "outbox_record_bodies",
        sa.Column(
            "seq",
            sa.Integer(),
            sa.ForeignKey("outbox_records.seq", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("record", sa.Text(), nullable=False),
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.create_table(
            _KEPT,
            sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
            sa.Column("record", sa.Text(), nullable=False),
        )
        op.execute(_KEEP)
        with op.batch_alter_table("outbox_records") as batch:
            batch.drop_column("record")
        _bodies()
        op.execute(_MOVE.format(source=_KEPT))
        op.drop_table(_KEPT)
        return
    _bodies()
    op.execute(_MOVE.format(source="outbox_records"))
    op.drop_column("outbox_records", "record")


def downgrade() -> None:
    op.add_column("outbox_records", sa.Column("record", sa.Text(), nullable=True))
    op.execute(
        "UPDATE outbox_records SET record = (SELECT b.record FROM outbox_record_bodies b"
        " WHERE b.seq = outbox_records.seq)"
    )
    op.execute("UPDATE outbox_records SET record = '' WHERE record IS NULL")
    op.drop_table("outbox_record_bodies")
    with op.batch_alter_table("outbox_records") as batch:
        batch.alter_column("record", existing_type=sa.Text(), nullable=False)
