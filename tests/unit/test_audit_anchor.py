"""The row binding and the signed checkpoint, without servers."""

from datetime import UTC, datetime

import pytest

from mvq.audit import binding, checkpoint, signing
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


def test_a_checkpoint_is_a_signed_note_that_round_trips_and_refuses_edits() -> None:
    made = checkpoint.Checkpoint(
        origin="mvq/audit-log/0123456789abcdef",
        size=12,
        seq=14,
        head="ab" * 32,
        time=datetime(2026, 11, 27, tzinfo=UTC),
    )
    note = signing.sign_note(made.text(), name=made.origin)
    lines = note.splitlines()
    assert lines[:3] == [
        "mvq/audit-log/0123456789abcdef",
        "12",
        "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
    ]
    assert lines[5] == "" and lines[6].startswith("\u2014 mvq/audit-log/0123456789abcdef ")
    assert checkpoint.parse(note) == made
    with pytest.raises(checkpoint.CheckpointInvalid, match="signature"):
        checkpoint.parse(note.replace("\n12\n", "\n11\n"))
    other_key = "00" * 32
    with pytest.raises(checkpoint.CheckpointInvalid, match="signature"):
        checkpoint.parse(note, public_key=other_key)
    assert made.key() == f"audit/checkpoints/0123456789abcdef/999999999986-14-{made.head}.txt"
    newer = checkpoint.Checkpoint(made.origin, 13, 15, "cd" * 32, made.time)
    assert newer.key() < made.key()  # the newest lists first
