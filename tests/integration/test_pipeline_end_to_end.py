"""The walking skeleton: upload → process → queue → review → score, on real servers."""

import httpx
from sqlalchemy import func, select

from mvq import storage
from mvq.audit.service import verify_chain
from mvq.db import session_factory
from mvq.media.models import Frame
from mvq.scoring.models import LedgerEntry
from testkit import harness
from testkit.claims import upload_claim, wait_for_status
from testkit.people import Accounts


def test_upload_process_review_award(stack: harness.Stack, accounts: Accounts, tank_clip) -> None:  # type: ignore[no-untyped-def]
    submission_id = upload_claim(stack, accounts.unit_token, tank_clip)

    body = wait_for_status(stack, accounts.unit_token, submission_id, "in_queue", "failed")
    assert body["status"] == "in_queue", body
    media = body["media"][0]
    assert media["status"] == "processed"
    assert media["sha256"] and media["metadata"]["duration_seconds"] > 3.5
    assert media["metadata"]["width"] == 640
    assert len(media["frames"]) >= 3

    # The frames and thumbnail really are JPEGs in S3.
    with session_factory(stack.database_url)() as session:
        keys = session.scalars(select(Frame.s3_key).where(Frame.media_id == media["id"])).all()
    assert keys
    head = storage.head(keys[0])
    assert head is not None and head["ContentType"] == "image/jpeg"
    thumb = httpx.get(storage.presign_get(f"derived/{media['id']}/thumb.jpg"))
    assert thumb.content[:3] == b"\xff\xd8\xff"

    with stack.client(accounts.staff_tokens["reviewer"]) as reviewer:
        lease = reviewer.post("/api/v1/review/claim")
        assert lease.status_code == 200, lease.text
        assert lease.json()["submission_id"] == submission_id
        decided = reviewer.post(
            f"/api/v1/review/{lease.json()['item_id']}/decision",
            json={"lease_token": lease.json()["lease_token"], "decision": "approve"},
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["points"] == 40  # tank destroyed in the demo table

    with stack.client(accounts.unit_token) as unit:
        ledger = unit.get("/api/v1/units/me/ledger").json()
        final = unit.get(f"/api/v1/submissions/{submission_id}").json()
    assert ledger["balance"] == 40
    assert [e["entry_type"] for e in ledger["entries"]] == ["award"]
    assert final["status"] == "approved" and final["points"] == 40
    assert final["decision"]["decision"] == "approve"

    with session_factory(stack.database_url)() as session:
        assert verify_chain(session).first_bad_seq is None
        awards = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.submission_id == submission_id)
        )
    assert awards == 1
