"""The schema comes only from migrations, and they run both ways on both databases."""

import pytest
from alembic import command
from sqlalchemy import inspect

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
