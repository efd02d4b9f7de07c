"""The review queue: one lease holder per item, decisions recorded with their lease."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from mvq.audit import service as audit
from mvq.auth.models import Role
from mvq.auth.service import Principal
from mvq.errors import Conflict, Forbidden, Invalid, NotFound
from mvq.review.models import Decision, DecisionKind, ItemState, ReviewItem
from mvq.scoring import service as scoring
from mvq.submissions.models import Outcome, Submission, SubmissionStatus

REJECT_REASONS = frozenset(
    {
        "not_visible",
        "wrong_target",
        "duplicate",
        "staged_or_fake",
        "insufficient_evidence",
        "wrong_location",
        "wrong_time",
        "other",
    }
)
REVIEWERS = (Role.reviewer, Role.senior, Role.admin)
SENIORS = (Role.senior, Role.admin)


def enqueue(session: Session, *, submission: Submission) -> ReviewItem:
    item = session.scalar(select(ReviewItem).where(ReviewItem.submission_id == submission.id))
    if item is None:
        item = ReviewItem(submission_id=submission.id, state=ItemState.pending)
        session.add(item)
        session.flush()
    return item


def _claimable(reviewer: Principal, now: datetime):  # type: ignore[no-untyped-def]
    states = [ItemState.pending]
    if reviewer.role in SENIORS:
        states.append(ItemState.escalated)
    expired = and_(ReviewItem.state == ItemState.leased, ReviewItem.lease_expires_at < now)
    return or_(ReviewItem.state.in_(states), expired)


def claim_next(
    session: Session, *, reviewer: Principal, now: datetime, lease_seconds: int
) -> tuple[ReviewItem, Submission] | None:
    if not reviewer.has_role(*REVIEWERS):
        raise Forbidden("only reviewers claim items")
    stmt = (
        select(ReviewItem.id)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .where(_claimable(reviewer, now))
        .order_by(ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id)
        .limit(1)
        # Postgres: concurrent claimers skip each other's rows instead of queuing on them.
        # SQLite ignores this; its BEGIN IMMEDIATE already serialises writers.
        .with_for_update(of=ReviewItem, skip_locked=True)
    )
    if reviewer.unit_id is not None:
        stmt = stmt.where(Submission.unit_id != reviewer.unit_id)
    item_id = session.scalar(stmt)
    if item_id is None:
        return None
    token = secrets.token_urlsafe(24)
    # Conditional: if anything claimed it in between, this changes no row and we report empty.
    result = session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item_id, _claimable(reviewer, now))
        .values(
            state=ItemState.leased,
            leased_by=reviewer.id,
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    item = session.get_one(ReviewItem, item_id, populate_existing=True)
    submission = session.get_one(Submission, item.submission_id)
    submission.status = SubmissionStatus.in_review
    audit.record(
        session,
        actor=reviewer.actor,
        action="review.leased",
        object_type="review_item",
        object_id=item.id,
        data={"submission_id": submission.id, "expires_at": item.lease_expires_at},
    )
    return item, submission


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
) -> Decision:
    if not reviewer.has_role(*REVIEWERS):
        raise Forbidden("only reviewers decide")
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound("no such review item")
    if decision not in set(DecisionKind):
        raise Invalid("decision must be approve, reject or escalate", code="bad_decision")
    if decision == DecisionKind.reject and reason_code not in REJECT_REASONS:
        raise Invalid(
            f"a rejection needs reason_code in {sorted(REJECT_REASONS)}", code="bad_reason_code"
        )
    if outcome is not None and outcome not in set(Outcome):
        raise Invalid("unknown outcome", code="bad_outcome")
    submission = session.get_one(Submission, item.submission_id)
    final_target = (target_type or submission.target_type).strip().lower()
    final_outcome = outcome or submission.outcome
    if decision == DecisionKind.approve and final_target not in scoring.known_target_types(
        session, at=submission.occurred_at
    ):
        raise Invalid(f"unknown target_type {final_target!r}", code="unknown_target_type")
    new_state = ItemState.escalated if decision == DecisionKind.escalate else ItemState.decided
    # The lease check and the state change are one conditional update: a stale or stolen
    # lease changes nothing.
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == item.id,
            ReviewItem.state == ItemState.leased,
            ReviewItem.leased_by == reviewer.id,
            ReviewItem.lease_token == lease_token,
            ReviewItem.lease_expires_at > now,
        )
        .values(state=new_state, leased_by=None, lease_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("the lease is stale or not yours; claim the item again", code="stale_lease")
    record = Decision(
        review_item_id=item.id,
        submission_id=submission.id,
        reviewer_id=reviewer.id,
        decision=decision,
        target_type=final_target,
        outcome=final_outcome,
        reason_code=reason_code,
        comment=comment,
        lease_token=lease_token,
    )
    session.add(record)
    session.flush()
    submission.status = {
        DecisionKind.approve: SubmissionStatus.approved,
        DecisionKind.reject: SubmissionStatus.rejected,
        DecisionKind.escalate: SubmissionStatus.escalated,
    }[DecisionKind(decision)]
    audit.record(
        session,
        actor=reviewer.actor,
        action=f"review.{decision}",
        object_type="decision",
        object_id=record.id,
        data={
            "submission_id": submission.id,
            "target_type": final_target,
            "outcome": final_outcome,
            "reason_code": reason_code,
        },
    )
    if decision == DecisionKind.approve:
        scoring.award(session, submission=submission, decision=record, actor=reviewer.actor)
    return record


def latest_decision(session: Session, *, submission_id: str) -> Decision | None:
    return session.scalar(
        select(Decision)
        .where(Decision.submission_id == submission_id)
        .order_by(Decision.created_at.desc())
        .limit(1)
    )
