"""What an attacker with the database does, for the audit tests."""

from sqlalchemy import text
from sqlalchemy.orm import Session


def unlock(session: Session, table: str) -> None:
    """What an attacker with the database file or a superuser login does first: switch off
    the triggers that keep `table` append-only."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
    else:
        for verb in ("update", "delete"):
            session.execute(text(f"DROP TRIGGER {table}_refuse_{verb}"))
