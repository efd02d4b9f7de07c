"""webhook event parts

One audit event may concern several units: a dispute settled tells each claim's unit its own
share. So an audit event makes one webhook event per (audit event, part), where it made one.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keep_append_only() -> None:
    """SQLite changes a constraint by copying the table, which drops its triggers: the copy is
    made append-only again, as 2026-11-28-0200_webhooks made the original (Postgres alters the
    table in place and keeps its trigger)."""
    if op.get_bind().dialect.name == "postgresql":
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER IF NOT EXISTS webhook_events_refuse_{verb.lower()} BEFORE {verb} "
            "ON webhook_events BEGIN SELECT RAISE(ABORT, 'webhook_events is append-only'); END"
        )


def upgrade() -> None:
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("part", sa.Integer(), nullable=False, server_default="0"))
        batch_op.drop_constraint("uq_webhook_events_audit_seq", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_webhook_events_audit_seq_part"), ["audit_seq", "part"]
        )
    _keep_append_only()


def downgrade() -> None:
    # webhook_events is append-only: a downgrade that had to drop parts would lose deliveries.
    parts = op.get_bind().scalar(sa.text("SELECT COUNT(*) FROM webhook_events WHERE part > 0"))
    if parts:
        raise RuntimeError(f"{parts} webhook events are second parts of an audit event; keep 0021")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_webhook_events_audit_seq_part", type_="unique")
        batch_op.create_unique_constraint("uq_webhook_events_audit_seq", ["audit_seq"])
        batch_op.drop_column("part")
    _keep_append_only()
