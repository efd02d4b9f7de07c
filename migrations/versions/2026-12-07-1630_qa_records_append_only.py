"""qa records append-only; notes written on QA copies

QA records become append-only, as decisions are: an undo within the window is a record of
its own (`kind = "undo"`, `withdraws_id` naming the answer it takes back) instead of a delete.
A note written on a golden or re-review copy is stored against the real claim with the task it
was written on (`item_notes.qa_task_id`), so that copy's thread shows it and no other.

Columns are added with ALTER TABLE ADD COLUMN on SQLite (not a batch copy), which keeps the
append-only triggers of item_notes and of the tables they point at.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (  # table, column, the table it points at
    ("item_notes", "qa_task_id", "qa_tasks"),
    ("qa_records", "withdraws_id", "qa_records"),
)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table, column, target in COLUMNS:
        if column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}:
            continue  # left by a SQLite downgrade (below)
        if postgres:
            op.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(36)")
            op.create_foreign_key(f"fk_{table}_{column}_{target}", table, target,
                                  [column], ["id"])  # fmt: skip
        else:  # SQLite: a REFERENCES clause is allowed on an added column that defaults to NULL
            op.execute(
                f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(36) REFERENCES {target} (id)"
            )
    for table, column, _ in COLUMNS:
        op.create_index(f"ix_{table}_{column}", table, [column])
    if postgres:
        # mvq_refuse_change() comes from the baseline.
        op.execute(
            "CREATE TRIGGER qa_records_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON qa_records FOR EACH STATEMENT EXECUTE FUNCTION mvq_refuse_change()"
        )
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER qa_records_refuse_{verb.lower()} BEFORE {verb} ON qa_records "
            "BEGIN SELECT RAISE(ABORT, 'qa_records is append-only'); END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER qa_records_append_only ON qa_records")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER qa_records_refuse_{verb}")
    for table, column, target in COLUMNS:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
        if postgres:
            op.drop_constraint(f"fk_{table}_{column}_{target}", table, type_="foreignkey")
            op.drop_column(table, column)
        # SQLite refuses to drop a column with a REFERENCES clause, and a batch copy of the table
        # would drop item_notes' append-only triggers: the unused column stays there, and the
        # upgrade above finds it.
