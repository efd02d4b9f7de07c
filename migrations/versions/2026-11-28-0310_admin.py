"""admin

Administration in the browser: a unit can be deactivated (`units.disabled_at`; nothing is
deleted), and the labels pages show for stored codes (target types, reject reasons), one per
code and language, edited by admins.

Columns are added in place (ALTER TABLE ADD/DROP COLUMN), never by a batch copy of the table:
on SQLite a copy would drop the append-only triggers with the old table.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mvq.db

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "units", sa.Column("disabled_at", mvq.db.UTCDateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "labels",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", mvq.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "code", "language", name=op.f("pk_labels")),
    )


def downgrade() -> None:
    op.drop_table("labels")
    # SQLite 3.35+ drops a column in place, keeping the table and its triggers.
    op.execute("ALTER TABLE units DROP COLUMN disabled_at")
