"""An appeal decided: upheld, it is a senior's overturn of the rejection (with its award, or
its wait for a second senior when the claim is worth the four-eyes threshold); denied, the
claim stays rejected. New files for a pending appeal go through the ordinary upload
(mvq.flows.intake.register_media)."""

from datetime import datetime

from sqlalchemy.orm import Session

from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.flows import decisions
from mvq.review import appeals
from mvq.review.models import Appeal, DecisionKind
from mvq.submissions import service as submissions


def uphold(
    session: Session,
    *,
    senior: Principal,
    appeal_id: str,
    reason: str,
    target_type: str | None,
    outcome: str | None,
    now: datetime,
) -> Appeal:
    # The role before the reason is read: whoever may not decide appeals hears only that.
    policy.require(senior, Action.decide_appeals)
    reason = appeals.clean_reason(reason, what="the decision's reason")
    appeal = appeals.lock_for_decision(session, senior=senior, appeal_id=appeal_id)
    item = appeals.item_of(session, appeal=appeal)
    # Through the overturn flow, not around it: four-eyes, and an award held while the claim
    # is in an open dispute, apply to an upheld appeal as to any overturn.
    decision = decisions.overturn(
        session,
        senior=senior,
        item_id=item.id,
        decision=DecisionKind.approve,
        target_type=target_type,
        outcome=outcome,
        reason_code=None,
        comment=reason,
    )
    claim = submissions.get_any(session, submission_id=appeal.submission_id)
    return appeals.record_upheld(session, senior=senior, appeal=appeal, decision=decision,
                                 reason=reason, claim_status=claim.status, now=now)  # fmt: skip


def deny(
    session: Session, *, senior: Principal, appeal_id: str, reason: str, now: datetime
) -> Appeal:
    return appeals.deny(session, senior=senior, appeal_id=appeal_id, reason=reason, now=now)
