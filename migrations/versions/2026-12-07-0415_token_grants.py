"""token grants

A person's token records the role it was issued for and whether a second factor was given, so
a token never acts for another role, nor for one that needs a second factor without one.

Tokens issued before keep working only where that is safe: their role is the person's role now,
and only a service account's standing token (issued by an admin, never by a password) counts as
given a second factor; everyone else whose role needs one signs in again.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 04:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("role", sa.String(20), nullable=True))
    op.add_column(
        "api_tokens",
        sa.Column("second_factor", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(
        "UPDATE api_tokens SET role = (SELECT role FROM staff_users"
        " WHERE staff_users.id = api_tokens.user_id) WHERE user_id IS NOT NULL"
    )
    op.execute(
        "UPDATE api_tokens SET second_factor = TRUE WHERE role = 'marketplace' AND purpose = 'api'"
    )


def downgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("second_factor")
        batch_op.drop_column("role")
