"""review_warnings_and_policies

Warnings put to reviewers before a likely mistake (a verdict too fast for the footage, a long
stretch without a break) with their overrides, and the written policy behind each decision
reason in versions. Both are append-only, as decisions are: a trigger refuses UPDATE and
DELETE on both databases.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 16:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mvq.db

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("review_warnings", "reason_policies")


def upgrade() -> None:
    op.create_table('review_warnings',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('reviewer_id', sa.String(length=36), nullable=False),
    sa.Column('review_item_id', sa.String(length=36), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('elapsed_seconds', sa.Double(), nullable=True),
    sa.Column('floor_seconds', sa.Double(), nullable=True),
    sa.Column('answers_id', sa.String(length=36), nullable=True),
    sa.Column('decision', sa.String(length=20), nullable=True),
    sa.Column('created_at', mvq.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['answers_id'], ['review_warnings.id'], name=op.f('fk_review_warnings_answers_id_review_warnings')),
    sa.ForeignKeyConstraint(['review_item_id'], ['review_items.id'], name=op.f('fk_review_warnings_review_item_id_review_items')),
    sa.ForeignKeyConstraint(['reviewer_id'], ['staff_users.id'], name=op.f('fk_review_warnings_reviewer_id_staff_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_warnings'))
    )
    op.create_index('ix_review_warnings_reviewer_created', 'review_warnings', ['reviewer_id', 'created_at'], unique=False)
    op.create_table('reason_policies',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('reason_code', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text_uk', sa.Text(), nullable=False),
    sa.Column('text_en', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', mvq.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reason_policies')),
    sa.UniqueConstraint('reason_code', 'version', name=op.f('uq_reason_policies_reason_code_version'))
    )
    op.create_index(op.f('ix_reason_policies_reason_code'), 'reason_policies', ['reason_code'], unique=False)
    for table in TABLES:
        if op.get_bind().dialect.name == "postgresql":
            # mvq_refuse_change() comes from the baseline, with the ledger's and log's triggers.
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION mvq_refuse_change()"
            )
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_refuse_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    for table in TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        else:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_refuse_{verb}")
    op.drop_index(op.f('ix_reason_policies_reason_code'), table_name='reason_policies')
    op.drop_table('reason_policies')
    op.drop_index('ix_review_warnings_reviewer_created', table_name='review_warnings')
    op.drop_table('review_warnings')
