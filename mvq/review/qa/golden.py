"""Seniors mark decided claims as golden items, with the right decision and reason."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.review.decisions import REJECT_REASONS
from mvq.review.models import DecisionKind
from mvq.review.qa.models import GoldenItem
from mvq.submissions.models import Submission, SubmissionStatus


def mark(
    session: Session,
    *,
    senior: Principal,
    submission_id: str,
    decision: str,
    reason_code: str | None,
    now: datetime,
) -> GoldenItem:
    """Marks (or re-marks, with a new answer) a decided claim as golden. Audited as QA."""
    policy.require(senior, Action.mark_golden)
    submission = session.get(Submission, submission_id)
    if submission is None or not policy.may_see_claim(senior, claim_unit_id=submission.unit_id):
        raise NotFound("no such submission")
    if submission.status not in (SubmissionStatus.approved, SubmissionStatus.rejected):
        raise Conflict("only a decided claim can be a golden item", code="golden_not_decided")
    if decision not in (DecisionKind.approve, DecisionKind.reject):
        raise Invalid("a golden answer approves or rejects", code="bad_decision")
    if decision == DecisionKind.reject and reason_code not in REJECT_REASONS:
        raise Invalid(
            f"a rejection needs reason_code in {sorted(REJECT_REASONS)}", code="bad_reason_code"
        )
    reason = reason_code if decision == DecisionKind.reject else None
    golden = session.scalar(select(GoldenItem).where(GoldenItem.submission_id == submission_id))
    if golden is None:
        golden = GoldenItem(submission_id=submission_id, marked_by=senior.id, created_at=now)
        session.add(golden)
    golden.decision, golden.reason_code, golden.active = decision, reason, True
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="qa.golden_marked",
        object_type="qa_golden",
        object_id=golden.id,
        data={"submission_id": submission_id, "decision": decision, "reason_code": reason},
    )
    return golden


def of_claim(session: Session, *, submission_id: str) -> GoldenItem | None:
    return session.scalar(select(GoldenItem).where(GoldenItem.submission_id == submission_id))
