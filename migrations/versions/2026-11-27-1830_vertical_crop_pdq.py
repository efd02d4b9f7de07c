"""PDQ of each frame's centre cut to 9:16 and 4:5 (vertical reposts)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 18:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("pdq_9x16", "pdq_4x5")


def upgrade() -> None:
    # Rows indexed before this have no vertical cuts; the matcher falls back to their plain PDQ.
    for table in ("frames", "indexed_frames"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in COLUMNS:
                batch_op.add_column(sa.Column(column, sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in ("indexed_frames", "frames"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in COLUMNS:
                batch_op.drop_column(column)
