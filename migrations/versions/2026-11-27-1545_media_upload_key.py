"""media_upload_key: the staging key presigned URLs name, apart from the sealed original

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for media registered before write-once: their bytes went straight to `s3_key`.
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upload_key", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_media_upload_key"), ["upload_key"])


def downgrade() -> None:
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_media_upload_key"), type_="unique")
        batch_op.drop_column("upload_key")
