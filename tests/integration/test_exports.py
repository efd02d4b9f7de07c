"""Exports and evidence bundles, made and checked by the CLI against the real stack: any
altered byte, a forged manifest or a gap between exports is caught."""

import json
import time
import zipfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import pytest

from mvq.audit.signing import manifest_signed_by
from mvq.auth.models import Role
from mvq.db import session_factory
from mvq.exports.dataset import sha256_file
from testkit import harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts, make_staff


@pytest.fixture(scope="module")
def approved(stack: harness.Stack, accounts: Accounts, tank_clip: Path) -> str:
    submission_id = upload_claim(stack, accounts.unit_token, tank_clip)
    wait_for_status(stack, accounts.unit_token, submission_id, "in_queue")
    with stack.client(accounts.staff_tokens["reviewer"]) as api:
        while True:  # earlier modules' items may sit ahead in the queue
            lease = api.post("/api/v1/review/claim").json()
            done = api.post(
                f"/api/v1/review/{lease['item_id']}/decision",
                json={"lease_token": lease["lease_token"], "decision": "approve"},
            )
            assert done.status_code == 200, done.text
            if lease["submission_id"] == submission_id:
                return submission_id


def cli(stack: harness.Stack, *args: str) -> tuple[int, str]:
    done = harness.run_cli(list(args), stack.env)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_export_verifies_and_any_altered_byte_is_caught(
    stack: harness.Stack, approved: str, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / "export"
    code, text = cli(stack, "export", "--out", str(out), "--format", fmt)
    assert code == 0, text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["files"][f"ledger.{fmt}"]["rows"] >= 1
    assert manifest["files"][f"audit_events.{fmt}"]["rows"] >= 5
    with stack.client() as api:
        key = api.get("/api/v1/audit/public-key").json()["public_key"]
    code, text = cli(stack, "verify-export", str(out), "--public-key", key)
    assert code == 0, text
    ledger = out / f"ledger.{fmt}"
    original = ledger.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    ledger.write_bytes(bytes(flipped))
    code, text = cli(stack, "verify-export", str(out), "--public-key", key)
    assert code != 0 and "ledger" in text and "SHA-256" in text
    ledger.write_bytes(original)
    # A manifest edited to match a forged file no longer carries a valid signature.
    manifest["files"][f"ledger.{fmt}"]["rows"] += 1
    (out / "manifest.json").write_text(json.dumps(manifest))
    code, text = cli(stack, "verify-export", str(out), "--public-key", key)
    assert code != 0 and "signature" in text


def test_consecutive_exports_chain_and_a_gap_is_caught(
    stack: harness.Stack, accounts: Accounts, approved: str, tmp_path: Path
) -> None:
    cut = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    with stack.client(accounts.staff_tokens["admin"]) as api:  # a few more events after the cut
        added = api.post(
            "/api/v1/scoring/rules",
            json={
                "effective_from": "2033-01-01T00:00:00Z",
                "rules": [{"target_type": "tank", "outcome": "destroyed", "points": 44}],
            },
        )
        assert added.status_code == 201, added.text
    first, second = tmp_path / "one", tmp_path / "two"
    assert cli(stack, "export", "--out", str(first), "--to", cut)[0] == 0
    assert cli(stack, "export", "--out", str(second), "--from", cut)[0] == 0
    # Both sides of the cut hold events, so the chain check below joins two real pieces.
    for part in (first, second):
        files = json.loads((part / "manifest.json").read_text())["files"]
        assert files["audit_events.csv"]["rows"] >= 1, part
    code, text = cli(stack, "verify-export", str(second), "--previous", str(first))
    assert code == 0, text
    # The first export does not continue from the second: its events start at the genesis.
    code, text = cli(stack, "verify-export", str(first), "--previous", str(second))
    assert code != 0 and "does not continue" in text


def test_the_evidence_bundle_holds_the_original_as_ingested_and_its_custody(
    stack: harness.Stack, accounts: Accounts, approved: str, tank_clip: Path
) -> None:
    with stack.client(accounts.staff_tokens["reviewer"]) as api:
        assert api.get(f"/api/v1/submissions/{approved}/evidence").status_code == 403
    with session_factory()() as session:
        insider = make_staff(session, Role.senior, unit_id=accounts.unit_id)
    with stack.client(insider) as api:  # a senior of the claiming unit
        assert api.get(f"/api/v1/submissions/{approved}/evidence").status_code == 404
    with stack.client(accounts.staff_tokens["auditor"]) as api:
        answer = api.get(f"/api/v1/submissions/{approved}/evidence")
        key = api.get("/api/v1/audit/public-key").json()["public_key"]
    assert answer.status_code == 200
    bundle = zipfile.ZipFile(BytesIO(answer.content))
    names = bundle.namelist()
    manifest = json.loads(bundle.read("manifest.json"))
    assert manifest_signed_by(manifest, key)
    ((media_id, original),) = manifest["originals"].items()
    assert bundle.read(original["file"]) == tank_clip.read_bytes()
    assert original["sha256_at_ingest"] == sha256_file(tank_clip)
    assert any(n.startswith(f"derived/{media_id}/") and n.endswith(".jpg") for n in names)
    actions = [json.loads(line)["action"] for line in bundle.read("custody.jsonl").splitlines()]
    for expected in (
        "submission.created",
        "media.processed",
        "review.leased",
        "review.approve",
        "ledger.award",
        "evidence.exported",
    ):
        assert expected in actions, actions
    for name, info in manifest["files"].items():
        import hashlib

        assert hashlib.sha256(bundle.read(name)).hexdigest() == info["sha256"], name
