"""rule_version_withdrawn

A scheduled rules version can be withdrawn before it takes effect. A withdrawal is a recorded
state (`withdrawn_at`), never a delete: the version stays in the history next to the audit
event that withdrew it. Both databases now hold rule_versions to that: the one update allowed
sets `withdrawn_at` once and changes nothing else, and a version is never deleted. Whether it
was still scheduled is the service's check (it knows the clock); the trigger keeps a bug or a
hand-run UPDATE from rewriting a version that awards were priced with.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mvq.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "a rules version changes only by being withdrawn, once"


def _withdrawn_once(same: str) -> str:
    # `same` is the dialect's null-safe equality: created_by is NULL for the seeded version.
    return (
        "OLD.withdrawn_at IS NULL AND NEW.withdrawn_at IS NOT NULL "
        "AND NEW.id = OLD.id AND NEW.effective_from = OLD.effective_from "
        f"AND NEW.created_by {same} OLD.created_by AND NEW.created_at = OLD.created_at"
    )


def upgrade() -> None:
    op.add_column(
        "rule_versions",
        sa.Column("withdrawn_at", mvq.db.UTCDateTime(timezone=True), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION mvq_rule_version_withdrawn_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND {_withdrawn_once("IS NOT DISTINCT FROM")} THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER rule_versions_withdrawn_once BEFORE UPDATE OR DELETE ON rule_versions "
            "FOR EACH ROW EXECUTE FUNCTION mvq_rule_version_withdrawn_once()"
        )
        return
    op.execute(
        "CREATE TRIGGER rule_versions_withdrawn_once BEFORE UPDATE ON rule_versions "
        f"WHEN NOT ({_withdrawn_once('IS')}) BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    op.execute(
        "CREATE TRIGGER rule_versions_refuse_delete BEFORE DELETE ON rule_versions "
        "BEGIN SELECT RAISE(ABORT, 'rules versions are never deleted'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER rule_versions_withdrawn_once ON rule_versions")
        op.execute("DROP FUNCTION mvq_rule_version_withdrawn_once()")
    else:
        op.execute("DROP TRIGGER rule_versions_refuse_delete")
        op.execute("DROP TRIGGER rule_versions_withdrawn_once")
    # A plain DROP COLUMN (SQLite 3.35+): a batch copy would drop and recreate a table that
    # rules, ledger entries and disputes point at.
    op.drop_column("rule_versions", "withdrawn_at")
