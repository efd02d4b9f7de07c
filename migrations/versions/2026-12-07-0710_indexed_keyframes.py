"""indexed keyframes

ORB keypoints of each clip's keyframes, for matching crops, insets and screen re-films.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indexed_keyframes",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("media_id", sa.String(length=36), nullable=False),
        sa.Column("t_seconds", sa.Double(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("points", sa.LargeBinary(), nullable=False),
        sa.Column("descriptors", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["media_id"], ["media.id"]),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("indexed_keyframes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_indexed_keyframes_media_id"), ["media_id"],
                              unique=False)  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("indexed_keyframes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_indexed_keyframes_media_id"))
    op.drop_table("indexed_keyframes")
