"""index rehash

Rows of the frame index now say which matching scheme hashed them (`scheme`): every row
already there is NULL, an old one, until `mvq index rehash` re-hashes it from its still
(mvq.matching.rehash). A partial index finds that backlog without reading the current rows;
`index_rehash` holds how far the re-hash has come, so a killed run resumes there.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("indexed_frames", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheme", sa.SmallInteger(), nullable=True))
        batch_op.create_index("ix_indexed_frames_old", ["seq"], unique=False,
                              sqlite_where=sa.text("scheme IS NULL"),
                              postgresql_where=sa.text("scheme IS NULL"))  # fmt: skip
    op.create_table(
        "index_rehash",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("index_rehash")
    with op.batch_alter_table("indexed_frames", schema=None) as batch_op:
        batch_op.drop_index("ix_indexed_frames_old")
        batch_op.drop_column("scheme")
