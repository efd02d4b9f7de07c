"""indexed frame ranges

Consecutive stills of one clip that are nearly alike are indexed once; `t_until` is the last
moment such a row stands for (null: only its own moment, as every row before this).

Added in place (a nullable column needs no batch copy on SQLite).

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("indexed_frames", sa.Column("t_until", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("indexed_frames", schema=None) as batch_op:
        batch_op.drop_column("t_until")
