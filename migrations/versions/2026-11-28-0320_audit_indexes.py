"""audit indexes

The auditors' page filters the log by actor, action (exact or a prefix), object type and date,
and pages it by seq, newest first (mvq.audit.query). Each filter gets an index that leads with
its column and ends in seq, so a page is one backwards range read that stops after a page of
rows; the date range gets one on occurred_at. The index on action alone is replaced by
(action, seq); on Postgres with varchar_pattern_ops, so that `action LIKE 'review.%'` uses it
in any collation. object_id keeps its own index (a claim's search is an IN list of ids).

Indexes are created in place, never by a batch copy of the table: on SQLite a copy would drop
the append-only triggers with the old table.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28 03:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_audit_events_action", table_name="audit_events")
    op.create_index("ix_audit_events_action_seq", "audit_events", ["action", "seq"],
                    postgresql_ops={"action": "varchar_pattern_ops"})  # fmt: skip
    op.create_index("ix_audit_events_actor_seq", "audit_events", ["actor", "seq"])
    op.create_index("ix_audit_events_object_type_seq", "audit_events", ["object_type", "seq"])
    op.create_index("ix_audit_events_occurred_at", "audit_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_occurred_at", table_name="audit_events")
    op.drop_index("ix_audit_events_object_type_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_actor_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_action_seq", table_name="audit_events")
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
