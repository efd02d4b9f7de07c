"""Receipts through the API: who may fetch one, and that what they fetch checks out offline."""

import json
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mvq.audit import checkpoint, merkle, signing
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.scoring import ledger
from mvq.scoring.models import EntryType, LedgerEntry
from testkit import harness
from testkit.people import make_login, make_staff, make_unit, web_login
from tests.witnesses import WitnessProcess, witnessed_sqlite


@pytest.fixture(scope="module")
def witnessed(
    backing: harness.Backing, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[harness.Stack, WitnessProcess]]:
    with witnessed_sqlite(backing, tmp_path_factory.mktemp("witness")) as (url, env, witness):
        stack = harness.start_stack(backing, url, workers=0, extra_env=env)
        try:
            yield stack, witness
        finally:
            stack.group.stop()


def test_receipts_for_the_unit_the_marketplace_and_auditors_only(
    witnessed: tuple[harness.Stack, WitnessProcess], tmp_path: Path
) -> None:
    stack, witness = witnessed
    with session_factory()() as session:
        unit_id, unit_token = make_unit(session)
        _, other_token = make_unit(session)
        market = make_staff(session, Role.marketplace)
        auditor = make_staff(session, Role.auditor)
        reviewer = make_staff(session, Role.reviewer)
        award = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=40)
        ledger.append(session, award, actor="test")
        session.commit()
        award_id = award.id
    with stack.client(market) as api:
        spent = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 15},
                         headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        assert spent.status_code == 201, spent.text
        debit_id = spent.json()["entry_id"]
    with stack.client(unit_token) as api:
        early = api.get(f"/api/v1/ledger/{award_id}/receipt")
        assert early.status_code == 409 and early.json()["error"]["code"] == "receipt_not_ready"
    swept = harness.run_cli(["sweep"], stack.env)
    assert "not cosigned" not in swept.stderr, swept.stderr

    def status(token: str, entry_id: str) -> int:
        with stack.client(token) as api:
            return api.get(f"/api/v1/ledger/{entry_id}/receipt").status_code

    assert [status(unit_token, e) for e in (award_id, debit_id)] == [200, 200]
    assert [status(auditor, e) for e in (award_id, debit_id)] == [200, 200]
    assert [status(market, e) for e in (award_id, debit_id)] == [404, 200]
    assert [status(other_token, e) for e in (award_id, debit_id)] == [404, 404]
    assert [status(reviewer, e) for e in (award_id, debit_id)] == [404, 404]

    with stack.client(market) as api:
        receipt = api.get(f"/api/v1/ledger/{debit_id}/receipt").json()
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    checked = harness.run_cli(
        ["verify-receipt", str(path), "--log-key", signing.public_key_hex(),
         "--witness-key", witness.public_key], stack.env,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert f"entry {debit_id} (-15)" in checked.stdout
    receipt["entry"]["points"] = "-1"
    path.write_text(json.dumps(receipt))
    forged = harness.run_cli(
        ["verify-receipt", str(path), "--log-key", signing.public_key_hex(),
         "--witness-key", witness.public_key], stack.env,
    )  # fmt: skip
    assert forged.returncode == 1 and "not what its event recorded" in forged.stderr


def test_auditors_read_the_log_as_tiles_and_recompute_the_checkpoint(
    witnessed: tuple[harness.Stack, WitnessProcess],
) -> None:
    stack, _ = witnessed
    with session_factory()() as session:
        auditor = make_staff(session, Role.auditor)
        reviewer = make_staff(session, Role.reviewer)
    harness.run_cli(["sweep"], stack.env)
    with stack.client(auditor) as api:
        note = api.get("/api/v1/audit/log/checkpoint")
        assert note.status_code == 200
        anchored = checkpoint.parse(note.text)
        size = anchored.size
        assert 0 < size < 256  # one partial tile holds this test log
        width = f"000.p/{size}"
        leaves = api.get(f"/api/v1/audit/log/tile/0/{width}").content
        bundle = api.get(f"/api/v1/audit/log/tile/entries/{width}").content
        assert api.get(f"/api/v1/audit/log/tile/0/000.p/{size + 1}").status_code == 404
        assert api.get("/api/v1/audit/log/tile/0/000").status_code == 404  # not full yet
        assert api.get("/api/v1/audit/log/tile/0/12a").status_code == 422
    hashes = [leaves[i : i + 32] for i in range(0, len(leaves), 32)]
    entries, at = [], 0
    while at < len(bundle):
        (length,) = struct.unpack(">H", bundle[at : at + 2])
        entries.append(bundle[at + 2 : at + 2 + length])
        at += 2 + length
    assert [merkle.leaf_hash(e) for e in entries] == hashes
    compact = merkle.CompactRange()
    for h in hashes:
        compact.append(h)
    assert compact.root() == anchored.root
    with stack.client(reviewer) as api:
        assert api.get(f"/api/v1/audit/log/tile/0/{width}").status_code == 403
        assert api.get("/api/v1/audit/log/checkpoint").status_code == 403


def test_no_one_linked_to_the_unit_nor_another_unit_reads_its_ledger_or_receipts(
    witnessed: tuple[harness.Stack, WitnessProcess],
) -> None:
    """Staff linked to a unit (a conflict of interest) read nothing of its ledger: no receipt
    (API or the /unit download), no statement; a member of another unit neither. Each is
    asked for the one entry, as an attacker who learnt its id would."""
    stack, _ = witnessed
    with session_factory()() as session:
        unit_id, unit_token = make_unit(session)
        other_id, other_token = make_unit(session)
        linked = {role: make_staff(session, role, unit_id=unit_id)
                  for role in (Role.auditor, Role.admin, Role.marketplace)}  # fmt: skip
        unlinked_auditor = make_staff(session, Role.auditor)
        award = LedgerEntry(unit_id=unit_id, entry_type=EntryType.award, points=40)
        ledger.append(session, award, actor="test")
        session.commit()
        award_id = award.id
    for role in (Role.marketplace, Role.admin):
        with stack.client(linked[role]) as api:
            # A spend's reply (and its refusal for want of points) states the balance, which
            # a linked account may not read; and it would move its own unit's points.
            spent = api.post(f"/api/v1/units/{unit_id}/debits", json={"points": 50},
                             headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
            assert spent.status_code == 403, (role, spent.text)
            assert spent.json()["error"]["code"] == "conflict_of_interest"
            assert "40" not in spent.text, spent.text
    with session_factory()() as session:
        assert ledger.balance(session, unit_id=unit_id) == 40  # nothing was recorded
    swept = harness.run_cli(["sweep"], stack.env)
    assert swept.returncode == 0, swept.stderr
    entry_ids = [award_id]

    def receipt(token: str, entry_id: str) -> int:
        with stack.client(token) as api:
            return api.get(f"/api/v1/ledger/{entry_id}/receipt").status_code

    def statement(token: str) -> int:
        with stack.client(token) as api:
            return api.get(f"/api/v1/units/{unit_id}/ledger").status_code

    # The control: those allowed get it, so a refusal below is the rule, not a broken route.
    assert receipt(unlinked_auditor, award_id) == 200
    assert receipt(unit_token, award_id) == 200
    assert statement(unlinked_auditor) == 200
    refused = {
        f"{who} receipt {entry_id}": receipt(token, entry_id)
        for who, token in [*((r.value, t) for r, t in linked.items()), ("other unit", other_token)]
        for entry_id in entry_ids
    } | {f"{r.value} statement": statement(t) for r, t in linked.items()}
    assert {k: v for k, v in refused.items() if v not in (403, 404)} == {}

    # The /unit download, as a member of another unit signed in on the web.
    member = web_login(stack, *make_login(Role.unit, unit_id=other_id))
    download = member.client.get(f"/unit/ledger/{award_id}/receipt.json")
    assert download.status_code == 404, download.text
    assert unit_id not in download.text
    own = web_login(stack, *make_login(Role.unit, unit_id=unit_id))
    assert own.client.get(f"/unit/ledger/{award_id}/receipt.json").status_code == 200
