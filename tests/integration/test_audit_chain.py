"""The audit chain detects tampering; on Postgres, the ledger and log refuse changes."""

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from mvq import storage
from mvq.audit import checkpoint, tree
from mvq.audit import service as audit
from mvq.audit.models import AuditEvent
from mvq.db import session_factory
from mvq.flows import decisions
from mvq.review import leases
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from testkit import harness
from testkit.people import make_unit
from tests.audit_attacks import unlock
from tests.helpers import NOW, queued_item, reviewer


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
        unlock(session, "audit_events")
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
        unlock(session, "audit_events")
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
        unlock(session, "audit_events")
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


def ledger_entry(url: str) -> str:
    """An award appended as the scoring flow does, with its audit event."""
    with session_factory(url)() as session:
        unit_id, _ = make_unit(session)
        entry = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=40)
        ledger.append(session, entry, actor="test")
        session.commit()
        return entry.id


def rejection(url: str) -> str:
    """A reviewer's real decision, through the decision flow."""
    with session_factory(url)() as session:
        unit_id, _ = make_unit(session)
        item = queued_item(session, unit_id)
    who = reviewer()
    with session_factory(url)() as session:
        leased = leases.claim_next(session, reviewer=who, now=NOW, lease_seconds=60)
        assert leased is not None and leased[0].id == item.id
        decided = decisions.decide(
            session, reviewer=who, item_id=item.id, lease_token=leased[0].lease_token or "",
            decision="reject", target_type=None, outcome=None, reason_code="not_visible",
            comment=None, now=NOW,
        )  # fmt: skip
        session.commit()
        return decided.id


def checkpoint_now(url: str) -> None:
    """One run of the real sweeper, which signs the chain's head into S3."""
    swept = harness.run_cli(["sweep"], {"MVQ_DATABASE_URL": url})
    assert swept.returncode == 0 and "sweep failed" not in swept.stderr, swept.stderr
    with session_factory(url)() as session:
        anchored = checkpoint.latest(session)
        size = tree.size(session)
        assert anchored is not None and size > 0
        assert anchored[0] == checkpoint.Checkpoint(
            checkpoint.origin(), size, tree.root(session, size)
        )


def test_append_only_tables_refuse_update_and_delete(chain_db: str) -> None:
    ledger_entry(chain_db)
    rejection(chain_db)
    with session_factory(chain_db)() as session:
        for statement in (
            "UPDATE ledger_entries SET points = 1000",
            "DELETE FROM ledger_entries",
            "DELETE FROM audit_events",
            "UPDATE audit_events SET actor = 'x'",
            "UPDATE decisions SET decision = 'approve'",
            "DELETE FROM decisions",
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()


def test_an_edited_ledger_entry_is_named(chain_db: str) -> None:
    entry_id = ledger_entry(chain_db)
    assert verify(chain_db).returncode == 0
    with session_factory(chain_db)() as session:
        unlock(session, "ledger_entries")
        session.execute(
            text("UPDATE ledger_entries SET points = 5000 WHERE id = :i"), {"i": entry_id}
        )
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert f"ledger_entries row {entry_id}: differs" in broken.stderr


def test_a_deleted_ledger_entry_is_named(chain_db: str) -> None:
    entry_id = ledger_entry(chain_db)
    with session_factory(chain_db)() as session:
        unlock(session, "ledger_entries")
        session.execute(text("DELETE FROM ledger_entries WHERE id = :i"), {"i": entry_id})
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert (
        f"ledger_entries row {entry_id}: recorded by its audit event but missing" in broken.stderr
    )


def test_an_edited_decision_is_named(chain_db: str) -> None:
    decision_id = rejection(chain_db)
    assert verify(chain_db).returncode == 0
    with session_factory(chain_db)() as session:
        unlock(session, "decisions")
        session.execute(
            text("UPDATE decisions SET decision = 'approve' WHERE id = :i"), {"i": decision_id}
        )
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert f"decisions row {decision_id}: differs" in broken.stderr


def test_deleting_the_newest_events_is_caught_by_the_checkpoint(chain_db: str) -> None:
    append_events(chain_db, 5)
    checkpoint_now(chain_db)
    assert verify(chain_db).returncode == 0
    with session_factory(chain_db)() as session:
        unlock(session, "audit_events")
        last = session.scalar(text("SELECT MAX(seq) FROM audit_events"))
        session.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": last - 2})
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert f"covers {last}" in broken.stderr and "truncated" in broken.stderr


def test_an_edited_and_rehashed_chain_is_caught_by_the_checkpoint(chain_db: str) -> None:
    append_events(chain_db, 6)
    checkpoint_now(chain_db)
    with session_factory(chain_db)() as session:
        unlock(session, "audit_events")
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        forged = events[2]
        forged.actor = "forger"
        prev = forged.prev_hash
        for event in events[2:]:  # every later link recomputed, as a careful forger would
            event.prev_hash = prev
            event.hash = audit.event_hash(event)
            session.flush()
            prev = event.hash
        session.commit()
    broken = verify(chain_db)
    assert broken.returncode == 1
    assert "the log was rewritten" in broken.stderr
    # The sweeper, like a witness, signs no head that contradicts the last checkpoint.
    swept = harness.run_cli(["sweep"], {"MVQ_DATABASE_URL": chain_db})
    assert '"checkpoints_written": 1' not in swept.stdout
    assert "the log was rewritten" in verify(chain_db).stderr


def test_a_checkpoint_in_s3_is_never_replaced(chain_db: str) -> None:
    append_events(chain_db, 2)
    checkpoint_now(chain_db)
    with session_factory(chain_db)() as session:
        newest = checkpoint.latest(session)
        name = checkpoint.instance(session)
    assert newest is not None and name is not None
    key = newest[0].key(name)
    assert storage.put_once(key, b"forged", content_type="text/plain") is False
    assert storage.get_bytes(key).startswith(newest[0].origin.encode())


def test_verify_export_names_a_ledger_entry_edited_before_the_export(
    chain_db: str, tmp_path: Path
) -> None:
    entry_id = ledger_entry(chain_db)
    with session_factory(chain_db)() as session:
        unlock(session, "ledger_entries")
        session.execute(
            text("UPDATE ledger_entries SET points = 5000 WHERE id = :i"), {"i": entry_id}
        )
        session.commit()
    for fmt in ("csv", "parquet"):
        out = tmp_path / fmt
        env = {"MVQ_DATABASE_URL": chain_db}
        made = harness.run_cli(["export", "--out", str(out), "--format", fmt], env)
        assert made.returncode == 0, made.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        assert checkpoint.parse(manifest["chain"]["checkpoint"]).size > 0
        checked = harness.run_cli(["verify-export", str(out)], env)
        assert checked.returncode == 1
        assert f"ledger_entries row {entry_id}: differs" in checked.stderr
