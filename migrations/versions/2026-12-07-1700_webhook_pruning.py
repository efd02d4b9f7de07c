"""webhook pruning

Delivered webhooks are kept for a while, then pruned (mvq.pruning). Events and tries were
append-only (2026-11-28-0200_webhooks); they stay so against UPDATE (and TRUNCATE on
Postgres), and a DELETE is refused unless the row may go: a try only once its delivery was
delivered, an event only once no delivery of it is left and the audit log names it nowhere
(as an object, or as the event a replay started from). How old a row must be is the app's
setting, not the database's. Indexes let the prune find old delivered deliveries, and the
deliveries of an event, without reading the whole table.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 17:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("webhook_events", "webhook_attempts")
# When a row may not be deleted (OLD: the row). The same conditions on both databases.
KEPT = {
    "webhook_attempts": (
        "NOT EXISTS (SELECT 1 FROM webhook_deliveries d "
        "WHERE d.id = OLD.delivery_id AND d.status = 'delivered')"
    ),
    "webhook_events": (
        "EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = OLD.id) "
        "OR EXISTS (SELECT 1 FROM audit_events a WHERE a.object_id = OLD.id) "
        "OR EXISTS (SELECT 1 FROM audit_events a WHERE a.action = 'webhook.replayed' "
        "AND {from_event} = OLD.id)"
    ),
}
FROM_EVENT = {"postgresql": "a.data ->> 'from_event_id'",
              "sqlite": "json_extract(a.data, '$.from_event_id')"}  # fmt: skip


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_status_delivered_at", "webhook_deliveries",
                    ["status", "delivered_at"])  # fmt: skip
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        kept = KEPT[table].format(from_event=FROM_EVENT[dialect])
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION mvq_refuse_change()"
            )
            op.execute(
                f"CREATE FUNCTION {table}_refuse_kept() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN IF {kept} THEN RAISE EXCEPTION '{table} keeps this row (append-only "
                "until it may be pruned)' USING ERRCODE = 'insufficient_privilege'; END IF; "
                "RETURN OLD; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_prune_only BEFORE DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_refuse_kept()"
            )
            continue
        op.execute(f"DROP TRIGGER {table}_refuse_delete")
        op.execute(
            f"CREATE TRIGGER {table}_refuse_delete BEFORE DELETE ON {table} WHEN {kept} "
            f"BEGIN SELECT RAISE(ABORT, '{table} keeps this row (append-only until it may be "
            "pruned)'); END"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER {table}_prune_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_refuse_kept()")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION mvq_refuse_change()"
            )
            continue
        op.execute(f"DROP TRIGGER {table}_refuse_delete")
        op.execute(
            f"CREATE TRIGGER {table}_refuse_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
    op.drop_index("ix_webhook_deliveries_event_id", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_status_delivered_at", table_name="webhook_deliveries")
