"""second_factor

Staff's second factor (TOTP): the sealed secret, when it was enrolled and the last time step a
code was accepted for (so none works twice); one-time recovery codes, stored as SHA-256 only.
Also each person's language and time zone (None: the defaults).

Columns are added in place (ALTER TABLE ADD/DROP COLUMN), never by a batch copy of the table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mvq.db

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("totp_sealed_secret", "totp_enrolled_at", "totp_last_step", "language", "time_zone")


def upgrade() -> None:
    op.add_column("staff_users", sa.Column("totp_sealed_secret", sa.String(200), nullable=True))
    op.add_column(
        "staff_users",
        sa.Column("totp_enrolled_at", mvq.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("staff_users", sa.Column("totp_last_step", sa.Integer(), nullable=True))
    op.add_column("staff_users", sa.Column("language", sa.String(8), nullable=True))
    op.add_column("staff_users", sa.Column("time_zone", sa.String(64), nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", mvq.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", mvq.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_recovery_codes_user_id_staff_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_staff_recovery_codes_code_hash")),
    )
    op.create_index(
        op.f("ix_staff_recovery_codes_user_id"), "staff_recovery_codes", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_recovery_codes_user_id"), table_name="staff_recovery_codes")
    op.drop_table("staff_recovery_codes")
    # SQLite 3.35+ drops a column in place, keeping the table and its triggers.
    for column in reversed(COLUMNS):
        op.execute(f"ALTER TABLE staff_users DROP COLUMN {column}")
