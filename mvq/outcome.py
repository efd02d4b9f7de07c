"""What became of a claim, as its unit is told it: the one reading behind "my claims", the
claim's JSON and the outcome webhooks, so the three never disagree.

It names which of a few outcomes applies (approved with its points, rejected with its reason,
one approval of two, approved but held in a dispute, a dispute settled with this claim's share)
and adds what happened besides: the appeal's fate and every reversal with its reason. It never
names another claim or unit: a dispute is told by this claim's share, the target's worth and
the senior's note only. Reads only."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mvq.review import appeals, decisions
from mvq.review.models import Decision, ReviewItem, Stage
from mvq.scoring.disputes.reading import member_of
from mvq.scoring.models import DisputeStatus, EntryType, LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus
from mvq.submissions.schemas import DisputeShareOut, OutcomeOut, ReversalOut

S = SubmissionStatus
# Still before a reviewer: a first approval of a four-eyes claim puts it back in the queue.
UNDECIDED = (S.in_queue, S.in_review)


def of_claim(session: Session, *, submission: Submission) -> OutcomeOut:
    decision = decisions.latest_decision(session, submission_id=submission.id)
    appeal = appeals.of_claim(session, submission_id=submission.id)
    points = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.submission_id == submission.id,
            LedgerEntry.entry_type.in_([EntryType.award, EntryType.reversal]),
        )
    )
    found = member_of(session, submission_id=submission.id)
    dispute = None
    if found is not None:
        held, member = found
        # A dispute that settled itself has no senior's note (its note says how it settled).
        note = held.note if held.settled_by is not None else None
        dispute = DisputeShareOut(status=held.status, share=member.share, total=held.points,
                                  note=note, settled_at=held.settled_at)  # fmt: skip
    # The dispute is told whatever the claim's state; it decides the sentence once approved.
    told = OutcomeOut(
        kind="undecided",
        points=int(points or 0),
        appeal=appeal.status if appeal else None,
        dispute=dispute,
        reversals=reversals(session, submission_id=submission.id),
    )
    if _awaiting_second(session, submission):
        return told.model_copy(update={"kind": "awaiting_second"})
    if submission.status == S.approved and decision is not None:
        kept = {"target_type": decision.target_type, "outcome": decision.outcome}
        approved = told.model_copy(update={"kind": "approved", **kept})
        if dispute is not None and dispute.status == DisputeStatus.open:
            return approved.model_copy(update={"kind": "held_in_dispute"})
        if dispute is not None and dispute.share is not None:
            return approved.model_copy(update={"kind": "dispute_settled"})
        return approved
    if submission.status == S.rejected and decision is not None:
        return told.model_copy(update={"kind": "rejected", "reason_code": decision.reason_code})
    return told


def _awaiting_second(session: Session, submission: Submission) -> bool:
    if submission.status not in UNDECIDED:
        return False
    first = session.scalar(
        select(ReviewItem.first_reviewer_id).where(ReviewItem.submission_id == submission.id)
    )
    return first is not None


def reversals(session: Session, *, submission_id: str) -> list[ReversalOut]:
    """Every reversal of the claim's points, oldest first, with why: the senior's note on a
    settlement, or the overturning (or undone) decision's reason code."""
    rows = session.execute(
        select(LedgerEntry, Decision)
        .outerjoin(Decision, Decision.id == LedgerEntry.decision_id)
        .where(LedgerEntry.submission_id == submission_id,
               LedgerEntry.entry_type == EntryType.reversal)
        .order_by(LedgerEntry.created_at, LedgerEntry.id)
    ).all()  # fmt: skip
    return [reversal(entry, decision) for entry, decision in rows]


def reversal(entry: LedgerEntry, decision: Decision | None) -> ReversalOut:
    if entry.dispute_id is not None:
        cause = "dispute"
    elif decision is not None and decision.stage == Stage.undo:
        cause = "undo"
    else:
        cause = "overturn"
    code = decision.reason_code if decision is not None and cause != "dispute" else None
    return ReversalOut(points=entry.points, cause=cause, reason=entry.note, reason_code=code,
                       at=entry.created_at)  # fmt: skip
