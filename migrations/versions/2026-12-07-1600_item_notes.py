"""item notes

A thread of notes on each review item, and the colleagues each note mentions. Both tables are
append-only, as the decisions are: a note is never edited or taken back, only answered.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mvq.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("item_notes", "note_mentions")


def upgrade() -> None:
    op.create_table(
        "item_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("review_item_id", sa.String(length=36), nullable=False),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", mvq.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["staff_users.id"],
                                name=op.f("fk_item_notes_author_id_staff_users")),
        sa.ForeignKeyConstraint(["review_item_id"], ["review_items.id"],
                                name=op.f("fk_item_notes_review_item_id_review_items")),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_item_notes_submission_id_submissions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_notes")),
    )  # fmt: skip
    op.create_index(op.f("ix_item_notes_review_item_id"), "item_notes", ["review_item_id"])
    op.create_table(
        "note_mentions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("note_id", sa.String(length=36), nullable=False),
        sa.Column("staff_user_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", mvq.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["note_id"], ["item_notes.id"],
                                name=op.f("fk_note_mentions_note_id_item_notes")),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staff_users.id"],
                                name=op.f("fk_note_mentions_staff_user_id_staff_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_mentions")),
    )  # fmt: skip
    op.create_index(op.f("ix_note_mentions_note_id"), "note_mentions", ["note_id"])
    op.create_index("ix_note_mentions_person", "note_mentions", ["staff_user_id", "created_at"])
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            # mvq_refuse_change() comes from the baseline.
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
    for table in APPEND_ONLY:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            continue
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_refuse_{verb}")
    op.drop_index("ix_note_mentions_person", table_name="note_mentions")
    op.drop_index(op.f("ix_note_mentions_note_id"), table_name="note_mentions")
    op.drop_table("note_mentions")
    op.drop_index(op.f("ix_item_notes_review_item_id"), table_name="item_notes")
    op.drop_table("item_notes")
