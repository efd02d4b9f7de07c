"""From a reviewer's or a senior's word to the ledger: an approval becomes an award (held
while its claim is in an open dispute), an overturned approval a reversal, and a rejection
may leave a dispute with one claim standing, which settles it."""

from datetime import datetime

from sqlalchemy.orm import Session

from mvq.auth.principal import Principal
from mvq.errors import Conflict
from mvq.review import decisions
from mvq.review import undo as undoing
from mvq.review.models import Decision
from mvq.scoring import service as scoring
from mvq.scoring.disputes import reading, settlement
from mvq.submissions.models import SubmissionStatus


def decide(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    lease_token: str,
    decision: str,
    target_type: str | None,
    outcome: str | None,
    reason_code: str | None,
    comment: str | None,
    now: datetime,
    override: bool = False,
) -> Decision:
    decided = decisions.decide(
        session,
        reviewer=reviewer,
        item_id=item_id,
        lease_token=lease_token,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
        comment=comment,
        now=now,
        override=override,
    )
    if decided.submission.status == SubmissionStatus.approved:
        _award(session, decided, actor=reviewer.actor)
    elif decided.submission.status == SubmissionStatus.rejected:
        settlement.claim_closed(session, submission=decided.submission)
    return decided.decision


def overturn(
    session: Session,
    *,
    senior: Principal,
    item_id: str,
    decision: str,
    target_type: str | None,
    outcome: str | None,
    reason_code: str | None,
    comment: str | None,
) -> Decision:
    decided = decisions.overturn(
        session,
        senior=senior,
        item_id=item_id,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
        comment=comment,
    )
    # An approval that waits for a second senior scores when that senior decides.
    if decided.submission.status == SubmissionStatus.approved:
        _award(session, decided, actor=senior.actor)
    elif decided.submission.status == SubmissionStatus.rejected:
        scoring.reverse(session, submission=decided.submission, decision=decided.decision,
                        actor=senior.actor)  # fmt: skip
        settlement.claim_closed(session, submission=decided.submission)
    return decided.decision


def undo(
    session: Session,
    *,
    reviewer: Principal,
    decision_id: str,
    now: datetime,
    lease_seconds: int,
    undo_seconds: int,
) -> undoing.Undone:
    """A reviewer's undo, the ledger's side: what the approval paid comes back as a reversal
    that names the undo record. A claim in a dispute is refused: its approval may have held an
    award or settled the dispute for another claim, and taking that back is a senior's call
    (an overturn, or the dispute's settlement), not a ten-second key."""
    last = undoing.last_own_decision(session, reviewer=reviewer)
    if last is not None and reading.member_of(session, submission_id=last.submission_id):
        raise Conflict("a claim in a dispute cannot be undone; ask a senior to overturn it",
                       code="undo_disputed")  # fmt: skip
    undone = undoing.undo(session, reviewer=reviewer, decision_id=decision_id, now=now,
                            lease_seconds=lease_seconds, undo_seconds=undo_seconds)  # fmt: skip
    scoring.reverse(session, submission=undone.submission, decision=undone.record,
                    actor=reviewer.actor)  # fmt: skip
    return undone


def undo_offer(
    session: Session, *, reviewer: Principal, now: datetime, undo_seconds: int
) -> tuple[Decision, float] | None:
    """The reviewer's decision an undo would take back now, and the seconds left; None where
    `undo` would refuse it (too late, a claim in a dispute, an item taken up since), so the
    page offers only an undo that works."""
    window = undoing.undo_window(session, reviewer=reviewer, now=now, undo_seconds=undo_seconds)
    if window is None:
        return None
    last = window[0]
    if reading.member_of(session, submission_id=last.submission_id) is not None:
        return None
    return None if undoing.moved_on(session, decision=last) else window


def _award(session: Session, decided: decisions.Decided, *, actor: str) -> None:
    """An approval's award, held while its claim is in an open dispute."""
    settlement.award_approval(session, submission=decided.submission, decision=decided.decision,
                            actor=actor, prices=decided.prices)  # fmt: skip
