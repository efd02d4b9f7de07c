"""The schema comes only from migrations, and they run both ways on both databases."""

from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from mvq.bootstrap import alembic_config
from mvq.db import build_engine
from testkit import harness


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, backing: harness.Backing) -> str:
    return harness.fresh_database(backing, request.param)


def table_names(url: str) -> set[str]:
    engine = build_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_models_match_migrations(empty_db: str) -> None:
    command.check(alembic_config(empty_db))  # raises on any drift


def test_upgrade_downgrade_upgrade_round_trip(empty_db: str) -> None:
    config = alembic_config(empty_db)
    full = table_names(empty_db)
    assert {"submissions", "media", "ledger_entries", "audit_events"} <= full
    command.downgrade(config, "base")
    assert table_names(empty_db) <= {"alembic_version"}
    command.upgrade(config, "head")
    assert table_names(empty_db) == full


def test_webhook_events_stay_append_only_after_their_parts_were_added(empty_db: str) -> None:
    """0021 changes webhook_events' unique key, which SQLite does by copying the table: its
    append-only triggers must come with it. (Since 2026-12-07-1700 an event may be deleted
    once no delivery of it is left, and the audit log names it nowhere: this one's replay.)"""
    engine = build_engine(empty_db)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO units (id, name, created_at) VALUES ('u', 'u', :t)"),
                         {"t": datetime.now(UTC)})  # fmt: skip
            conn.execute(
                text("INSERT INTO webhook_events (id, audit_seq, part, type, unit_id, payload,"
                     " occurred_at, created_at) VALUES ('e', 1, 1, 't', 'u', '{}', :t, :t)"),
                {"t": datetime.now(UTC)},
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO audit_events (occurred_at, actor, action, object_type,"
                     " object_id, data, prev_hash, hash) VALUES (:t, 'test', 'webhook.replayed',"
                     " 'webhook_endpoint', 'w', '{\"from_event_id\": \"e\"}', 'p', 'h')"),
                {"t": datetime.now(UTC)},
            )  # fmt: skip
        for change in ("UPDATE webhook_events SET type = 'x'", "DELETE FROM webhook_events"):
            with pytest.raises(DBAPIError), engine.begin() as conn:
                conn.execute(text(change))
    finally:
        engine.dispose()
