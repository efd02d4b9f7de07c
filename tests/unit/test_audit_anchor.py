"""The row binding and the signed checkpoint, without servers."""

import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mvq.audit import binding, checkpoint, notes, signing, witness
from mvq.scoring.models import LedgerEntry

ROW = {
    "id": "e1",
    "unit_id": "u1",
    "entry_type": "award",
    "points": 40,
    "submission_id": "s1",
    "decision_id": "d1",
    "rule_version_id": None,
    "actor_id": None,
    "dispute_id": None,
    "idempotency_key": None,
    "note": None,
    "created_at": datetime(2026, 11, 27, 15, 0, 0, 123456, tzinfo=UTC),
}
TABLE = LedgerEntry.__table__


def test_a_row_digest_is_the_same_from_the_database_and_from_exported_text() -> None:
    native = binding.digest(TABLE, ROW)  # type: ignore[arg-type]
    as_csv = {k: "" if v is None else str(v) for k, v in ROW.items()}
    as_csv["created_at"] = "2026-11-27T17:00:00.123456+02:00"  # the same instant
    assert binding.digest(TABLE, as_csv) == native  # type: ignore[arg-type]
    assert binding.digest(TABLE, ROW | {"points": 5000}) != native  # type: ignore[arg-type]
    assert binding.row_digest(LedgerEntry(**ROW)) == native


def test_check_rows_names_edited_unbound_and_missing_rows() -> None:
    bound = {"e1": binding.digest(TABLE, ROW), "gone": "0" * 64}  # type: ignore[arg-type]
    rows = [ROW | {"points": 5000}, ROW | {"id": "forged"}]
    problems = [str(p) for p in binding.check_rows(TABLE, rows, bound, complete=True)]  # type: ignore[arg-type]
    assert problems == [
        "ledger_entries row e1: differs from the row its audit event recorded",
        "ledger_entries row forged: no audit event binds this row",
        "ledger_entries row gone: recorded by its audit event but missing",
    ]


def test_a_checkpoint_is_a_note_named_by_its_key_that_round_trips_and_refuses_edits() -> None:
    made = checkpoint.Checkpoint(origin=checkpoint.origin(), size=12, root=bytes([0xAB]) * 32)
    note = checkpoint.sign(made)
    lines = note.splitlines()
    public = signing.public_key_hex()
    assert made.origin == "mvq/audit-log/" + hashlib.sha256(bytes.fromhex(public)).hexdigest()[:16]
    assert lines[1:3] == ["12", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="]
    assert lines[3] == "" and lines[4].startswith(f"\u2014 {made.origin} ")
    assert checkpoint.parse(note) == made
    with pytest.raises(checkpoint.CheckpointInvalid, match="signature"):
        checkpoint.parse(note.replace("\n12\n", "\n11\n"))
    other = Ed25519PrivateKey.generate()
    with pytest.raises(checkpoint.CheckpointInvalid, match="not this log"):
        checkpoint.parse(note, public_key=notes.public_hex(other))
    assert made.key("i").endswith(f"/i/9999999999988-12-{made.root.hex()}.txt")
    newer = checkpoint.Checkpoint(made.origin, 13, bytes(32))
    assert newer.key("i") < made.key("i")  # the newest lists first


def test_a_cosignature_is_a_timestamped_note_signature_of_its_own_type() -> None:
    made = checkpoint.Checkpoint(origin=checkpoint.origin(), size=3, root=bytes(32))
    key = Ed25519PrivateKey.generate()
    name = witness.witness_name(notes.public_hex(key))
    line = notes.cosign(key, name=name, text=made.text(), timestamp=1_700_000_000)
    text, lines = notes.split(notes.join(made.text(), [line]))
    found = notes.cosigned_by(text, lines, name=name, public_key=notes.public_hex(key))
    assert found == notes.Cosignature(name, 1_700_000_000)
    # A cosignature is not a note signature: its key id and its message differ.
    assert not notes.signed_by(text, lines, name=name, public_key=notes.public_hex(key))
    assert notes.cosigned_by(made.text().replace("\n3\n", "\n4\n"), lines, name=name,
                             public_key=notes.public_hex(key)) is None  # fmt: skip
