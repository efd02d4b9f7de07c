"""review_flow

The reviewer's undo and "my recent decisions". A decision now records whether its item was
taken from the seniors' lane (`from_senior_lane`), so a reviewer's undo, itself a new decision
row that names the one it takes back, can put the item back exactly where it was; and one
reviewer's latest decisions are one index range.

The column is added in place (ALTER TABLE ADD/DROP COLUMN), never by a batch copy of the
table: on SQLite a copy would drop the append-only triggers of 0008 with the old table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("from_senior_lane", sa.Boolean(), nullable=True))
    op.create_index(
        "ix_decisions_reviewer_created", "decisions", ["reviewer_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_reviewer_created", table_name="decisions")
    # SQLite 3.35+ drops a column in place, keeping the table and its triggers.
    op.execute("ALTER TABLE decisions DROP COLUMN from_senior_lane")
