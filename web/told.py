"""What a decision did, in the reviewer's words: read back from the ledger and the dispute it
left, not assumed from the button pressed (an approval in a dispute pays nothing yet)."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edge.i18n import gettext as _
from mvq.review.models import Decision
from mvq.review.qa.tasks import QaDecided
from mvq.scoring.disputes.reading import member_of
from mvq.scoring.models import DisputeStatus, LedgerEntry
from mvq.submissions.models import Submission, SubmissionStatus

S = SubmissionStatus


def held_in_dispute(session: Session, *, submission_id: str) -> bool:
    """An approved claim whose award waits on its open dispute (settlement.award_approval)."""
    found = member_of(session, submission_id=submission_id)
    return found is not None and found[0].status == DisputeStatus.open


def decision_outcome(session: Session, *, record: Decision) -> str:
    """The sentence after a reviewer's decision or a senior's overturn: where the claim went
    and what the ledger did with it."""
    status = session.get_one(Submission, record.submission_id).status
    points = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.decision_id == record.id
        )
    )
    if record.decision == "escalate":
        return _("Escalated: a senior reviewer decides this claim.")
    if record.decision == "reject":
        if status == S.escalated:
            return _("Rejected. A first reviewer approved this claim, so a senior decides it.")
        if points and points < 0:  # an overturned approval: its award reversed
            return _("Rejected: %(points)s points taken back.", points=-points)
        return _("Rejected.")
    if status == S.in_queue:
        return _("Approved. The claim scores once a second reviewer approves it too.")
    if status == S.escalated:
        return _("Approved. The claim scores once a second senior approves it too.")
    if held_in_dispute(session, submission_id=record.submission_id):
        return _("Approved. The claim is in a dispute over the same target, so its points are "
                 "held until a senior settles the dispute.")  # fmt: skip
    if points:
        return _("Approved: %(points)s points awarded.", points=points)
    return _("Approved; no points are awarded for it.")


def qa_outcome(decided: QaDecided) -> str:
    """The sentence after a decision on a golden or re-review item: the one a live first look
    with the same verdict would get (mvq.review.qa.tasks says where it would have left the
    claim), so the answer tells the reviewer nothing a live one would not."""
    if decided.record.decision == "escalate":
        return _("Escalated: a senior reviewer decides this claim.")
    if decided.record.decision == "reject":
        return _("Rejected.")
    if decided.status == S.in_queue:
        return _("Approved. The claim scores once a second reviewer approves it too.")
    if decided.points:
        return _("Approved: %(points)s points awarded.", points=decided.points)
    return _("Approved; no points are awarded for it.")
