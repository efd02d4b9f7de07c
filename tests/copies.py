"""Units A and B holding copies of the same footage, built straight in the database: what
the visibility tests and the crawl read as someone linked to A."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.auth import service as auth
from mvq.auth.models import Role
from mvq.db import utcnow
from testkit.people import Accounts, make_unit


@dataclass
class Copies:
    """Units A and B holding copies of the same footage (`copies` fixture): B's claim names
    A's as an exact, cross-unit copy and as already credited; a dispute holds a claim of
    each; each unit has a rejected claim under appeal. Nothing of A's claims (`secrets`: ids,
    the unit's id and name, stored object keys) may reach anyone linked to A."""

    unit_a: str
    unit_b: str
    unit_b_token: str
    a_claim: str  # approved: the original B's claim copies
    b_claim: str  # in the queue, its flags naming a_claim
    b_item: str
    b_media: str
    dispute_id: str
    b_disputed: str
    a_appeal: str
    b_appeal: str
    b_appealed: str
    a_entries: list[str]  # unit A's ledger: the award for a_claim, then a spend
    b_entries: list[str]  # unit B's ledger: one award
    secrets: set[str]


def stored_media(session: Session, submission_id: str, *, sealed: bool) -> str:
    """A processed video with two frames, under keys that name its claim."""
    from mvq.media.models import Frame, Media

    stem = f"test-copies/{submission_id}"
    media = Media(
        submission_id=submission_id, status="processed" if sealed else "failed",
        filename="strike.mp4", content_type="video/mp4", declared_size=1000,
        declared_sha256=uuid.uuid4().hex * 2, s3_key=f"{stem}/original.mp4",
        upload_key=f"{stem}/upload.mp4", kind="video", container="mp4",
        thumbnail_key=f"{stem}/thumb.jpg", contact_sheet_key=f"{stem}/sheet.jpg",
        sha256=uuid.uuid4().hex * 2 if sealed else None, probe={},
    )  # fmt: skip
    session.add(media)
    session.flush()
    for n in range(2):
        session.add(Frame(media_id=media.id, index=n, t_seconds=float(n), width=64,
                          height=36, s3_key=f"{stem}/frame-{n}.jpg", pdq="0" * 64,
                          pdq_quality=100))  # fmt: skip
    session.flush()
    return media.id


def make_copies(accounts: Accounts) -> Copies:
    from mvq.db import session_factory
    from mvq.flows import intake
    from mvq.media.models import Frame, Media
    from mvq.review.models import Appeal, Decision, ReviewItem
    from mvq.scoring import ledger
    from mvq.scoring.disputes import reading
    from mvq.scoring.models import EntryType, LedgerEntry
    from mvq.submissions.models import Flag, Submission
    from mvq.units.models import Unit

    hit = datetime.now(UTC) - timedelta(hours=3)
    with session_factory()() as session:
        (unit_a, _), (unit_b, b_token) = make_unit(session), make_unit(session)
        reviewer = auth.create_user(session, email=f"r-{uuid.uuid4().hex[:8]}@test.mvq",
                                    role=Role.reviewer, unit_id=None, actor="test")[0]  # fmt: skip

        def claim(unit: str, status: str, minutes: int, lon: float) -> Submission:
            submission = Submission(unit_id=unit, status=status, target_type="tank",
                                    outcome="destroyed", lat=47.1, lon=lon,
                                    occurred_at=hit + timedelta(minutes=minutes))  # fmt: skip
            session.add(submission)
            session.flush()
            return submission

        def rejected_with_appeal(unit: str, minutes: int, lon: float) -> tuple[str, str]:
            submission = claim(unit, "rejected", minutes, lon)
            item = ReviewItem(submission_id=submission.id, state="decided", points=10,
                              flagged=False, priority=0)  # fmt: skip
            session.add(item)
            session.flush()
            rejection = Decision(review_item_id=item.id, submission_id=submission.id,
                                 reviewer_id=reviewer.id, decision="reject", target_type="tank",
                                 outcome="destroyed", reason_code="duplicate")  # fmt: skip
            session.add(rejection)
            session.flush()
            appeal = Appeal(submission_id=submission.id, unit_id=unit, rejection_id=rejection.id,
                            reason="it is ours", created_at=utcnow())  # fmt: skip
            session.add(appeal)
            session.flush()
            return submission.id, appeal.id

        original = claim(unit_a, "approved", 0, 37.5)
        a_media = stored_media(session, original.id, sealed=True)
        session.add(ReviewItem(submission_id=original.id, state="decided", points=10,
                               flagged=False, priority=0))  # fmt: skip
        copy = claim(unit_b, "in_queue", 1, 37.5005)
        b_media = stored_media(session, copy.id, sealed=False)
        match = {"submission_id": original.id, "unit_id": unit_a, "media_id": a_media,
                 "frame_pairs": [{"this_t": 0.0, "other_t": 0.0, "distance": 0}]}  # fmt: skip
        for kind in ("exact_duplicate", "cross_unit_duplicate"):
            session.add(Flag(submission_id=copy.id, media_id=b_media, kind=kind,
                             evidence={"matches": [match]}))  # fmt: skip
        session.flush()
        b_item = intake.queue_for_review(session, submission=copy).id
        # Two units' claims a minute and 100 m apart, elsewhere: one dispute.
        disputed = []
        for n, unit in enumerate((unit_a, unit_b)):
            other = claim(unit, "in_queue", 120 + n, 36.0 + n * 0.001)
            intake.queue_for_review(session, submission=other)
            disputed.append(other.id)
        a_appealed, a_appeal = rejected_with_appeal(unit_a, 300, 35.0)
        b_appealed, b_appeal = rejected_with_appeal(unit_b, 301, 35.0005)
        session.add(Flag(submission_id=b_appealed, kind="near_duplicate",
                         evidence={"matches": [{"submission_id": a_appealed,
                                                "unit_id": unit_a}]}))  # fmt: skip
        # Each unit's ledger, written as the scorer and a spend write it (with their audit
        # events): their receipts and statements are crawled too.
        a_entries = [
            ledger.append(session, LedgerEntry(unit_id=unit_a, entry_type=EntryType.award,
                                               points=10, submission_id=original.id),
                          actor="test").id,
            ledger.append(session, LedgerEntry(unit_id=unit_a, entry_type=EntryType.debit,
                                               points=-3, idempotency_key=uuid.uuid4().hex),
                          actor="test").id,
        ]  # fmt: skip
        b_entries = [
            ledger.append(session, LedgerEntry(unit_id=unit_b, entry_type=EntryType.award,
                                               points=10), actor="test").id,
        ]  # fmt: skip
        session.commit()
        found = reading.member_of(session, submission_id=disputed[1])
        assert found is not None, "no dispute between the units"
        a_claims = list(session.scalars(select(Submission.id).where(Submission.unit_id == unit_a)))
        secrets = {unit_a, session.get_one(Unit, unit_a).name, a_appeal, *a_claims, *a_entries}
        for m in session.scalars(select(Media).where(Media.submission_id.in_(a_claims))):
            secrets |= {m.id, m.s3_key, m.upload_key or m.s3_key, m.thumbnail_key or m.s3_key,
                        m.contact_sheet_key or m.s3_key}  # fmt: skip
            secrets |= set(session.scalars(select(Frame.s3_key).where(Frame.media_id == m.id)))
        secrets |= set(session.scalars(select(ReviewItem.id).where(
            ReviewItem.submission_id.in_(a_claims))))  # fmt: skip
        return Copies(unit_a, unit_b, b_token, original.id, copy.id, b_item, b_media,
                      found[0].id, disputed[1], a_appeal, b_appeal, b_appealed, a_entries,
                      b_entries, secrets)  # fmt: skip
