"""append_only_everywhere

The ledger, the audit log and decisions refuse UPDATE and DELETE on SQLite too, as the ledger
and the audit log already do on Postgres; decisions join them on Postgres. A decision is never
changed: an overturn is a new row that names the one it replaces.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 16:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TABLES = ("ledger_entries", "audit_events", "decisions")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # mvq_refuse_change() comes from the baseline, with the ledger's and log's triggers.
        op.execute(
            "CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON decisions "
            "FOR EACH STATEMENT EXECUTE FUNCTION mvq_refuse_change()"
        )
        return
    for table in SQLITE_TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_refuse_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER decisions_append_only ON decisions")
        return
    for table in SQLITE_TABLES:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_refuse_{verb}")
