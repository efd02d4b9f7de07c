"""unit_members

Units' members sign in as people (staff_users with role `unit`), so a claim records who in the
unit made it (`submitted_by`), beside the unit that owns it. A claim may also leave its time to
the footage: `occurred_at_source` says where `occurred_at` came from (`unit` as stated, or
`capture_time` / `telemetry` / `upload_time` when the unit left it to the file).

Columns are added in place (ALTER TABLE ADD/DROP COLUMN), never by a batch copy of the table:
on SQLite a copy would drop the append-only triggers of 0008 with the old table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column's reference only inline; Alembic would try a separate ALTER.
        op.execute(
            "ALTER TABLE submissions ADD COLUMN submitted_by VARCHAR(36) "
            "REFERENCES staff_users (id)"
        )
    else:
        op.add_column(
            "submissions",
            sa.Column(
                "submitted_by", sa.String(36), sa.ForeignKey("staff_users.id"), nullable=True
            ),
        )
    op.add_column(
        "submissions",
        sa.Column("occurred_at_source", sa.String(20), nullable=False, server_default="unit"),
    )


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place, keeping the table and its triggers.
    op.execute("ALTER TABLE submissions DROP COLUMN occurred_at_source")
    op.execute("ALTER TABLE submissions DROP COLUMN submitted_by")
