"""appeals

A unit's one appeal against a rejected claim. The row changes once, from pending to upheld or
denied, and is never deleted: the unit's words and the senior's verdict are evidence, like the
decisions they sit between. A verdict is corrected by a new overturn of the claim, not by
rewriting the appeal. Both databases enforce it with a row trigger that lets through only that
one update (and only with who decided, when and why), so a bug or a hand-run UPDATE cannot
reopen an appeal or reword what the unit wrote.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mvq.db

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one update allowed: a pending appeal decided, everything the unit filed unchanged, an
# upheld one naming the overturn it made and a denied one naming none.
DECIDED_ONCE = """
    OLD.status = 'pending' AND NEW.status IN ('upheld', 'denied')
    AND NEW.id = OLD.id AND NEW.submission_id = OLD.submission_id
    AND NEW.unit_id = OLD.unit_id AND NEW.rejection_id = OLD.rejection_id
    AND NEW.reason = OLD.reason AND NEW.created_at = OLD.created_at
    AND NEW.decided_by IS NOT NULL AND NEW.decided_at IS NOT NULL
    AND NEW.decision_reason IS NOT NULL
    AND (NEW.status = 'upheld') = (NEW.decision_id IS NOT NULL)
"""


def upgrade() -> None:
    op.create_table('appeals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('submission_id', sa.String(length=36), nullable=False),
    sa.Column('unit_id', sa.String(length=36), nullable=False),
    sa.Column('rejection_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', mvq.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=36), nullable=True),
    sa.Column('decided_at', mvq.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('decision_id', sa.String(length=36), nullable=True),
    sa.ForeignKeyConstraint(['decided_by'], ['staff_users.id'], name=op.f('fk_appeals_decided_by_staff_users')),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_appeals_decision_id_decisions')),
    sa.ForeignKeyConstraint(['rejection_id'], ['decisions.id'], name=op.f('fk_appeals_rejection_id_decisions')),
    sa.ForeignKeyConstraint(['submission_id'], ['submissions.id'], name=op.f('fk_appeals_submission_id_submissions')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_appeals_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
    sa.UniqueConstraint('submission_id', name=op.f('uq_appeals_submission_id'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeals_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_appeals_unit_id'), ['unit_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION mvq_appeal_decided_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND {DECIDED_ONCE} THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION 'an appeal changes once, from pending to decided'
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER appeals_decided_once BEFORE UPDATE OR DELETE ON appeals "
            "FOR EACH ROW EXECUTE FUNCTION mvq_appeal_decided_once()"
        )
        # mvq_refuse_change() comes from the baseline.
        op.execute(
            "CREATE TRIGGER appeals_no_truncate BEFORE TRUNCATE ON appeals "
            "FOR EACH STATEMENT EXECUTE FUNCTION mvq_refuse_change()"
        )
        return
    op.execute(
        f"CREATE TRIGGER appeals_decided_once BEFORE UPDATE ON appeals WHEN NOT ({DECIDED_ONCE}) "
        "BEGIN SELECT RAISE(ABORT, 'an appeal changes once, from pending to decided'); END"
    )
    op.execute(
        "CREATE TRIGGER appeals_refuse_delete BEFORE DELETE ON appeals "
        "BEGIN SELECT RAISE(ABORT, 'appeals are never deleted'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER appeals_no_truncate ON appeals")
        op.execute("DROP TRIGGER appeals_decided_once ON appeals")
        op.execute("DROP FUNCTION mvq_appeal_decided_once()")
    else:
        op.execute("DROP TRIGGER appeals_refuse_delete")
        op.execute("DROP TRIGGER appeals_decided_once")
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeals_unit_id'))
        batch_op.drop_index(batch_op.f('ix_appeals_status'))

    op.drop_table('appeals')
