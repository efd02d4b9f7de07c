"""Claims on one hit, made at the service level: a claim entering the queue (with the copies
its footage matches), a reviewer's decision, and the dispute a claim is in."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mvq.auth.principal import Principal
from mvq.flows import decisions, intake
from mvq.media.models import Media, MediaStatus
from mvq.review import leases
from mvq.review.models import ReviewItem
from mvq.scoring.disputes import reading
from mvq.scoring.models import LedgerEntry
from mvq.submissions.models import Flag, Submission, SubmissionStatus

HIT = datetime.now(UTC) - timedelta(hours=3)


def claim(
    session: Session,
    unit_id: str,
    target: str = "tank",
    *,
    at: datetime = HIT,
    lat: float | None = None,
    lon: float | None = None,
    copies: list[str] = (),  # type: ignore[assignment]
    captured_at: datetime | None = None,
    telemetry_at: datetime | None = None,
) -> Submission:
    """A claim entering the queue. `copies`: earlier claims its footage matches, flagged as the
    matcher flags them (tests/integration/test_reuse.py runs the matcher itself)."""
    submission = Submission(unit_id=unit_id, status=SubmissionStatus.in_queue, target_type=target,
                            outcome="destroyed", occurred_at=at, lat=lat, lon=lon)  # fmt: skip
    session.add(submission)
    session.flush()
    media = Media(submission_id=submission.id, status=MediaStatus.processed, filename="c.mp4",
                  content_type="video/mp4", declared_size=1, declared_sha256="0" * 64,
                  s3_key=f"test/{submission.id}", captured_at=captured_at,
                  probe={"telemetry": {"source": "srt", "start": telemetry_at.isoformat()}}
                  if telemetry_at else {})  # fmt: skip
    session.add(media)
    session.flush()
    matches = []
    for other in copies:
        other_unit = session.get_one(Submission, other).unit_id
        matches.append({"media_id": media.id, "submission_id": other, "unit_id": other_unit,
                        "share_this": 1.0, "share_other": 0.9, "min_distance": 4})  # fmt: skip
    if matches:
        session.add(Flag(submission_id=submission.id, media_id=media.id, kind="near_duplicate",
                         evidence={"matches": matches}))  # fmt: skip
    intake.queue_for_review(session, submission=submission)
    session.commit()
    return submission


def decide(session: Session, who: Principal, submission_id: str, decision: str) -> None:
    """`who` leases this claim's item (put first in the queue) and decides it."""
    session.execute(
        update(ReviewItem).where(ReviewItem.submission_id == submission_id).values(priority=10**9)
    )
    session.commit()
    leased = leases.claim_next(session, reviewer=who, now=datetime.now(UTC), lease_seconds=60)
    assert leased is not None
    assert leased[1].id == submission_id
    decisions.decide(session, reviewer=who, item_id=leased[0].id,
                     lease_token=leased[0].lease_token or "", decision=decision,
                     target_type=None, outcome=None,
                     reason_code="not_visible" if decision == "reject" else None,
                     comment=None, now=datetime.now(UTC))  # fmt: skip
    session.commit()


def dispute_of(session: Session, submission_id: str) -> reading.Contest:
    found = reading.member_of(session, submission_id=submission_id)
    assert found is not None, "the claim is in no dispute"
    return reading.load(session, found[0])


def paid(session: Session, *submission_ids: str) -> int:
    """Points the ledger holds for these claims, awards less reversals."""
    total = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.submission_id.in_(submission_ids)
        )
    )
    return int(total or 0)
