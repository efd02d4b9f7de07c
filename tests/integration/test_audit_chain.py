"""The audit chain detects tampering; on Postgres, the ledger and log refuse changes."""

import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from mvq.audit import service as audit
from mvq.db import session_factory
from tests import harness


@pytest.fixture(params=["sqlite", "postgres"])
def chain_db(request: pytest.FixtureRequest, backing: harness.Backing) -> str:
    """A database of its own per test: one test's tampering must not decide another's."""
    url = harness.fresh_database(backing, request.param)
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url})
    return url


def append_events(url: str, count: int) -> None:
    with session_factory(url)() as session:
        for n in range(count):
            audit.record(
                session,
                actor="test",
                action="thing.done",
                object_type="thing",
                object_id=str(n),
                data={"n": n},
            )
        session.commit()


def verify(url: str) -> harness.subprocess.CompletedProcess[str]:
    return harness.run_cli(["audit", "verify"], {"MVQ_DATABASE_URL": url})


def test_audit_verify_passes_then_names_the_first_altered_event(chain_db: str) -> None:
    append_events(chain_db, 5)
    ok = verify(chain_db)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok:")
    with session_factory(chain_db)() as session:
        if chain_db.startswith("postgresql"):
            session.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            )
        seq = session.scalar(
            text("SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1 OFFSET 2")
        )
        session.execute(text("UPDATE audit_events SET actor = 'forger' WHERE seq = :s"), {"s": seq})
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert f"event {seq}" in broken.stderr


def test_removed_event_breaks_the_chain(chain_db: str) -> None:
    append_events(chain_db, 3)
    assert verify(chain_db).returncode == 0
    with session_factory(chain_db)() as session:
        if chain_db.startswith("postgresql"):
            session.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            )
        session.execute(
            text("DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) - 1 FROM audit_events)")
        )
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert "prev_hash" in broken.stderr


def test_swapped_events_break_the_chain_at_the_first_of_them(chain_db: str) -> None:
    """Two whole events (hashes included) trade places: each is intact, the order is not."""
    append_events(chain_db, 4)
    columns = "occurred_at, actor, action, object_type, object_id, data, prev_hash, hash"
    with session_factory(chain_db)() as session:
        if chain_db.startswith("postgresql"):
            session.execute(
                text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only")
            )
        first, second = session.execute(
            text(f"SELECT seq, {columns} FROM audit_events ORDER BY seq LIMIT 2 OFFSET 1")  # noqa: S608 - fixed names
        ).all()
        # prev_hash and hash are unique: park one row out of the way while they swap.
        session.execute(text("UPDATE audit_events SET prev_hash = 'x', hash = 'y' WHERE seq = :s"),
                        {"s": second.seq})  # fmt: skip
        for target, source in ((first.seq, second), (second.seq, first)):
            values = {c: getattr(source, c) for c in columns.split(", ")}
            if isinstance(values["data"], dict):
                values["data"] = json.dumps(values["data"])
            session.execute(
                text("UPDATE audit_events SET "  # noqa: S608 - fixed column names
                     + ", ".join(f"{c} = :{c}" for c in values) + " WHERE seq = :seq"),
                {**values, "seq": target},
            )  # fmt: skip
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert f"event {first.seq}" in broken.stderr


def test_postgres_refuses_update_and_delete_on_ledger_and_audit(postgres_database: str) -> None:
    append_events(postgres_database, 1)
    with session_factory(postgres_database)() as session:
        for statement in (
            "UPDATE ledger_entries SET points = 1000",
            "DELETE FROM ledger_entries",
            "DELETE FROM audit_events",
            "UPDATE audit_events SET actor = 'x'",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()
