"""A reviewer takes back their own last decision, within seconds of making it."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from mvq.audit import binding
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict
from mvq.review.decisions import append, latest_decision
from mvq.review.leases import move
from mvq.review.models import Appeal, Decision, DecisionKind, ItemState, ReviewItem, Stage
from mvq.submissions.models import Submission, SubmissionStatus

S = SubmissionStatus

# Undo is a compensating record, not a grace period. The decision is final the moment it is
# made (its award is in the ledger, its audit event in the chain); within `undo_seconds` its
# own reviewer may take it back, which appends a decision of stage `undo` naming it
# (`overturns_id`), moves the claim back to `in_review` under a new lease of theirs and, in
# `mvq.flows.decisions.undo`, reverses any award with a new ledger entry. Nothing is updated or
# deleted, so the ledger stays append-only and the chain says what happened: decided, then
# undone. A grace period (decisions pending for ten seconds) would have kept every other
# reader (the ledger, the unit, disputes, stats) waiting on a sweeper instead.
UNDOABLE_STAGES = (Stage.review, Stage.second)


@dataclass(frozen=True)
class Undone:
    """The undo record, the decision it takes back, and the item leased again to its reviewer."""

    record: Decision
    undone: Decision
    item: ReviewItem
    submission: Submission


def last_own_decision(session: Session, *, reviewer: Principal) -> Decision | None:
    """This reviewer's latest decision of any stage: after an undo or an overturn there is
    nothing to undo until they decide again."""
    return session.scalar(
        select(Decision)
        .where(Decision.reviewer_id == reviewer.id)
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(1)
    )


def undo_window(
    session: Session, *, reviewer: Principal, now: datetime, undo_seconds: int
) -> tuple[Decision, float] | None:
    """The reviewer's decision that may still be undone and the seconds left, if any."""
    last = last_own_decision(session, reviewer=reviewer)
    if last is None or last.stage not in UNDOABLE_STAGES or last.from_senior_lane is None:
        return None
    left = undo_seconds - (now - last.created_at).total_seconds()
    return (last, left) if left > 0 else None


def moved_on(session: Session, *, decision: Decision, item: ReviewItem | None = None) -> bool:
    """Whether the claim has moved past this decision (a later one, an appeal, a new lease),
    so an undo would be refused: asked before offering one, and again under the lock."""
    item = item or session.get_one(ReviewItem, decision.review_item_id)
    latest = latest_decision(session, submission_id=decision.submission_id)
    appealed = session.scalar(
        select(exists().where(Appeal.submission_id == decision.submission_id))
    )
    return (
        latest is None
        or latest.id != decision.id
        or bool(appealed)
        or (item.state == ItemState.leased)
    )


def undo(
    session: Session,
    *,
    reviewer: Principal,
    decision_id: str,
    now: datetime,
    lease_seconds: int,
    undo_seconds: int,
) -> Undone:
    """Takes back the reviewer's own last decision (see the comment above)."""
    policy.require(reviewer, Action.review)
    window = undo_window(session, reviewer=reviewer, now=now, undo_seconds=undo_seconds)
    if window is None or window[0].id != decision_id:
        raise Conflict("the time to undo this decision has passed", code="undo_expired")
    last = window[0]
    item = session.scalar(
        select(ReviewItem)
        .where(ReviewItem.id == last.review_item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert item is not None
    submission = session.get_one(Submission, last.submission_id, populate_existing=True)
    if moved_on(session, decision=last, item=item):
        raise Conflict("someone else has already taken this item up", code="undo_moved")
    first_approval = last.decision == DecisionKind.approve and submission.status == S.in_queue
    token = secrets.token_urlsafe(24)
    # Conditional on the state the decision left, so an undo racing a claim changes nothing.
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item.id, ReviewItem.state == item.state)
        .values(
            senior_only=bool(last.from_senior_lane),
            first_reviewer_id=None if first_approval else item.first_reviewer_id,
            leased_by=reviewer.id,
            lease_token=token,
            leased_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("someone else has already taken this item up", code="undo_moved")
    record = append(
        session,
        item=item,
        reviewer=reviewer,
        decision=Stage.undo,
        target_type=last.target_type,
        outcome=last.outcome,
        stage=Stage.undo,
        lease_token=token,
        leased_at=now,
        overturns_id=last.id,
    )
    was = submission.status
    move(session, item=item, submission=submission, to=S.in_review, cause="review.undo",
         actor=reviewer.actor, data={"decision_id": record.id})  # fmt: skip
    session.refresh(item)
    audit.record(
        session,
        actor=reviewer.actor,
        action="review.undo",
        object_type="decision",
        object_id=record.id,
        data={
            "submission_id": submission.id,
            "undoes": last.id,
            "undone_decision": last.decision,
            "from": was,
            binding.ROW_DIGEST: binding.row_digest(record),
        },
    )
    return Undone(record, last, item, submission)
