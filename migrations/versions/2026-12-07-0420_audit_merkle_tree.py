"""audit merkle tree

The audit events become the leaves of an RFC 9162 Merkle tree: `audit_leaves` numbers them,
`audit_tree_nodes` keeps every complete subtree's hash (leaves at level 0), filled by
mvq.audit.tree.integrate from the events.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_audit_leaves")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_leaves_seq")),
    )
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_nodes")),
    )


def downgrade() -> None:
    op.drop_table("audit_tree_nodes")
    op.drop_table("audit_leaves")
