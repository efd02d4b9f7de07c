"""Rewrites caught: an operator holding the database and the storage keys (and even the log's
signing key) rewrites an award, re-hashes the chain, rebuilds the Merkle tree and deletes every
checkpoint in S3. The witnesses, real `mvq witness` processes with their own keys and
directories, still hold what they cosigned, and `mvq audit verify` asks them."""

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from mvq import storage
from mvq.audit import binding, checkpoint, signing, tree
from mvq.audit import service as audit
from mvq.audit.models import AuditEvent, AuditLeaf, AuditTreeNode
from mvq.auth import policy
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring import ledger, receipts
from mvq.scoring.models import EntryType, LedgerEntry
from testkit import harness
from testkit.people import make_login, make_unit, web_login
from tests.audit_attacks import unlock
from tests.witnesses import WitnessProcess, start_witness


@dataclass
class Log:
    url: str
    db_file: Path
    log_key: str
    witnesses: list[WitnessProcess]
    env: dict[str, str]


@pytest.fixture
def log(backing: harness.Backing, tmp_path: Path) -> Iterator[Log]:
    url = harness.fresh_database(backing, "sqlite")
    before = {k: os.environ.get(k, "") for k in ("MVQ_DATABASE_URL", "MVQ_WITNESSES")}
    harness.use_env({**backing.env, "MVQ_DATABASE_URL": url,
                     "MVQ_SIGNING_KEY": os.urandom(32).hex()})  # fmt: skip
    log_key = signing.public_key_hex()
    started = [start_witness(tmp_path / f"witness-{n}", log_key) for n in range(2)]
    env = {
        "MVQ_DATABASE_URL": url,
        "MVQ_WITNESSES": ",".join(f"{w.url} {w.public_key}" for w in started),
    }
    harness.use_env(env)
    try:
        yield Log(url, Path(url.removeprefix("sqlite:///")), log_key, started, env)
    finally:
        for w in started:
            w.proc.terminate()
            w.proc.wait(timeout=10)
        harness.use_env({**backing.env, **before})  # later modules get the session's key back


def award(url: str, points: int) -> str:
    with session_factory(url)() as session:
        unit_id, _ = make_unit(session)
        entry = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=points)
        ledger.append(session, entry, actor="test")
        for n in range(3):
            audit.record(session, actor="test", action="thing.done", object_type="thing",
                         object_id=str(n), data={"n": n})  # fmt: skip
        session.commit()
        return entry.id


def sweep(env: dict[str, str]) -> str:
    swept = harness.run_cli(["sweep"], env)
    assert swept.returncode == 0 and "sweep failed" not in swept.stderr, swept.stderr
    return swept.stdout + swept.stderr


def verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return harness.run_cli(["audit", "verify"], env)


def forge(session: Session, entry_id: str, points: int) -> None:
    """50 → 500, as the finding's attacker did: the row, its event's digest, every later link
    of the chain re-hashed, and the Merkle tree rebuilt from the forged events."""
    unlock(session, "ledger_entries")
    unlock(session, "audit_events")
    session.execute(text("UPDATE ledger_entries SET points = :p WHERE id = :i"),
                    {"p": points, "i": entry_id})  # fmt: skip
    entry = session.get(LedgerEntry, entry_id)
    assert entry is not None
    session.refresh(entry)
    events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    at = next(i for i, e in enumerate(events) if e.object_id == entry_id)
    events[at].data = {**events[at].data, "points": points,
                       binding.ROW_DIGEST: binding.row_digest(entry)}  # fmt: skip
    prev = events[at].prev_hash
    for event in events[at:]:
        event.prev_hash = prev
        event.hash = audit.event_hash(event)
        session.flush()
        prev = event.hash
    session.execute(AuditTreeNode.__table__.delete())
    session.execute(AuditLeaf.__table__.delete())
    tree.integrate(session)
    session.commit()


def delete_operator_checkpoints() -> int:
    keys = storage.keys(checkpoint.PREFIX)
    for key in keys:
        storage.delete(key)
    return len(keys)


def offline(tmp_path: Path, log: Log, *args: str) -> subprocess.CompletedProcess[str]:
    """`mvq verify-receipt` with nothing but files and public keys: no database, no S3."""
    keys = [a for w in log.witnesses for a in ("--witness-key", w.public_key)]
    nowhere = {"MVQ_DATABASE_URL": f"sqlite:///{tmp_path}/absent.sqlite",
               "MVQ_S3_ENDPOINT_URL": "http://127.0.0.1:9", "MVQ_WITNESSES": "",
               "MVQ_SIGNING_KEY": "unrelated", "MVQ_DATA_DIR": str(tmp_path / "empty")}  # fmt: skip
    return harness.run_cli(["verify-receipt", *args, "--log-key", log.log_key, *keys], nowhere)


def test_a_rewrite_after_deleting_the_checkpoints_fails_verify(log: Log, tmp_path: Path) -> None:
    entry_id = award(log.url, 50)
    sweep(log.env)
    ok = verify(log.env)
    assert ok.returncode == 0, ok.stderr
    assert all(f"{w.url} at " in ok.stdout for w in log.witnesses), ok.stdout
    with session_factory(log.url)() as session:
        issued = receipts.build(session, entry_id=entry_id, reader=policy.OPERATOR)
    receipt = tmp_path / "receipt.json"
    receipt.write_text(json.dumps(issued))
    checked = offline(tmp_path, log, str(receipt))
    assert checked.returncode == 0, checked.stderr
    assert f"entry {entry_id} (+50)" in checked.stdout
    award(log.url, 7)
    sweep(log.env)
    extends = harness.run_cli(["audit", "prove-consistency", "--old", str(receipt),
                               "--out", str(tmp_path / "before.json")], log.env)  # fmt: skip
    assert extends.returncode == 0, extends.stderr
    assert (
        offline(tmp_path, log, str(receipt), "--newer", str(tmp_path / "before.json")).returncode
        == 0
    )

    with session_factory(log.url)() as session:
        forge(session, entry_id, 500)
    assert delete_operator_checkpoints() >= 1
    broken = verify(log.env)
    assert broken.returncode == 1, broken.stdout
    assert "the log was rewritten" in broken.stderr
    assert log.witnesses[0].url in broken.stderr

    # The operator's sweeper has nothing left to contradict in S3, so it signs the forged
    # tree; every witness refuses to cosign it, and verify still fails.
    swept = sweep(log.env)
    assert "not cosigned" in swept
    assert "the log was rewritten" in verify(log.env).stderr

    # The receipt from before proves it: the rewritten log's newest checkpoint (signed with the
    # log's own key) has no consistency proof from the receipt's, checked with only the
    # receipt, the operator's proof file and the public keys.
    after = tmp_path / "after.json"
    proved = harness.run_cli(["audit", "prove-consistency", "--old", str(receipt),
                              "--out", str(after)], log.env)  # fmt: skip
    assert proved.returncode == 1 and "does not extend" in proved.stderr
    caught = offline(tmp_path, log, str(receipt), "--newer", str(after))
    assert caught.returncode == 1
    assert "history was rewritten" in caught.stderr


def test_a_moved_database_is_the_same_log(log: Log, tmp_path: Path) -> None:
    entry_id = award(log.url, 50)
    sweep(log.env)
    moved = tmp_path / "elsewhere" / "moved.sqlite"
    moved.parent.mkdir()
    # The file and its write-ahead log, as one consistent copy (what moving a live one takes).
    with sqlite3.connect(log.db_file) as source, sqlite3.connect(moved) as target:
        source.backup(target)
    env = {**log.env, "MVQ_DATABASE_URL": f"sqlite:///{moved}"}
    ok = verify(env)
    assert ok.returncode == 0, ok.stderr
    assert all(f"{w.url} at " in ok.stdout for w in log.witnesses), ok.stdout
    # The moved copy grows, and the witnesses go on cosigning it from where they were.
    award(env["MVQ_DATABASE_URL"], 10)
    sweep(env)
    assert "not cosigned" not in sweep(env)
    assert verify(env).returncode == 0

    with session_factory(env["MVQ_DATABASE_URL"])() as session:
        forge(session, entry_id, 500)
    delete_operator_checkpoints()
    broken = verify(env)
    assert broken.returncode == 1
    assert "the log was rewritten" in broken.stderr


def test_a_witness_refuses_a_rollback_and_an_unwitnessed_log_still_verifies(log: Log) -> None:
    award(log.url, 50)
    sweep(log.env)
    with session_factory(log.url)() as session:
        unlock(session, "audit_events")
        last = session.scalar(text("SELECT MAX(seq) FROM audit_events"))
        session.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": last - 2})
        session.execute(text("DELETE FROM audit_leaves"))
        session.execute(text("DELETE FROM audit_tree_nodes"))
        session.commit()
    delete_operator_checkpoints()
    broken = verify(log.env)
    assert broken.returncode == 1 and "truncated" in broken.stderr
    assert "not cosigned" in sweep(log.env)
    # With no witness configured the operator's own (now empty) bucket is all there is.
    alone = verify({**log.env, "MVQ_WITNESSES": ""})
    assert "not witnessed" in alone.stdout


def test_verify_now_on_the_audit_page_asks_the_witnesses(
    log: Log, backing: harness.Backing
) -> None:
    """The /audit page's button runs the same check as `mvq audit verify`: after the rewrite
    and the operator's checkpoints deleted, the witnesses still name it."""
    entry_id = award(log.url, 50)
    sweep(log.env)
    env = {**log.env, "MVQ_SIGNING_KEY": os.environ["MVQ_SIGNING_KEY"]}
    stack = harness.start_stack(backing, log.url, workers=0, extra_env=env)
    try:
        auditor = web_login(stack, *make_login(Role.auditor))

        def verify_now() -> tuple[dict[str, Any], str]:
            done = auditor.client.post("/audit/verify", data={"csrf_token": auditor.csrf})
            assert done.status_code == 303, done.text
            page = auditor.client.get(done.headers["location"], headers={"Accept": "text/html"})
            with session_factory(log.url)() as session:
                event = session.scalar(
                    select(AuditEvent).where(AuditEvent.action == "audit.verified")
                    .order_by(AuditEvent.seq.desc()).limit(1))  # fmt: skip
                assert event is not None
                return event.data, page.text

        ok, page = verify_now()
        assert ok["ok"] is True, ok
        assert sorted(ok["witnessed"]) == sorted(w.url for w in log.witnesses), ok
        assert 'id="chain-status" class="ok"' in page
        assert "Checked against the checkpoints of 2 witnesses." in page

        with session_factory(log.url)() as session:
            forge(session, entry_id, 500)
        assert delete_operator_checkpoints() >= 1
        broken, page = verify_now()
        assert broken["ok"] is False, broken
        assert "the log was rewritten" in broken["problem"], broken
        assert log.witnesses[0].url in broken["problem"]
        assert 'id="chain-status" class="error"' in page
        # In Ukrainian the page says it in words; the witness's address stays as code.
        uk = auditor.client.get("/audit?lang=uk", headers={"Accept": "text/html"}).text
        assert "журнал переписали" in uk and "the log was rewritten" not in uk
        assert f"<code>{log.witnesses[0].url}</code>" in uk
    finally:
        stack.group.stop()
