"""The review queue: one lease holder per item, decisions recorded with their lease.

Lanes: an item waits either for any reviewer (`pending`) or for a senior (`escalated`,
`senior_only`). A claim worth at least `four_eyes_points` needs two approvals by two different
people before it scores; a second reviewer who disagrees sends it to the seniors.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mvq.audit import binding
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.service import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.review.models import Appeal, Decision, DecisionKind, ItemState, ReviewItem, Stage
from mvq.rules import service as rules
from mvq.rules.models import Outcome
from mvq.settings import get_settings
from mvq.submissions import lifecycle
from mvq.submissions.models import Flag, Submission, SubmissionStatus

REJECT_REASONS = {
    "not_visible": "Target not visible",
    "wrong_target": "Wrong target type",
    "duplicate": "Duplicate of another claim",
    "staged_or_fake": "Staged or fake",
    "insufficient_evidence": "Insufficient evidence",
    "wrong_location": "Wrong location",
    "wrong_time": "Wrong time",
    "other": "Other (explain in the comment)",
}
FLAGGED_FIRST = 1_000_000
S = SubmissionStatus
# The item's state follows from its claim's status; only `move` below changes either.
ITEM_STATE = {
    S.in_queue: ItemState.pending,
    S.in_review: ItemState.leased,
    S.escalated: ItemState.escalated,
    S.approved: ItemState.decided,
    S.rejected: ItemState.decided,
}


def priority_of(*, points: int | None, flagged: bool) -> int:
    # Flagged claims first, then the valuable ones: what a senior must see sits at the top.
    return (FLAGGED_FIRST if flagged else 0) + (points or 0)


def enqueue(session: Session, *, submission: Submission) -> ReviewItem:
    item = session.scalar(select(ReviewItem).where(ReviewItem.submission_id == submission.id))
    if item is not None:
        return item
    flagged = bool(session.scalar(select(exists().where(Flag.submission_id == submission.id))))
    points = rules.price_table(session, at=submission.occurred_at).worth(
        submission.target_type, submission.outcome
    )
    item = ReviewItem(
        submission_id=submission.id,
        state=ITEM_STATE[SubmissionStatus(submission.status)],
        points=points,
        flagged=flagged,
        priority=priority_of(points=points, flagged=flagged),
    )
    session.add(item)
    session.flush()
    return item


def may_view(viewer: Principal, *, submission: Submission) -> bool:
    return policy.allows(viewer, Action.view_queue) and policy.may_see_claim(
        viewer, claim_unit_id=submission.unit_id
    )


def move(
    session: Session,
    *,
    item: ReviewItem,
    submission: Submission,
    to: SubmissionStatus,
    cause: str,
    actor: str,
    data: dict[str, Any] | None = None,
) -> None:
    """Moves the claim through its life cycle and sets the item's state to follow it."""
    lifecycle.move(session, submission, to=to, cause=cause, actor=actor, data=data)
    session.execute(
        update(ReviewItem)
        .where(ReviewItem.id == item.id)
        .values(state=ITEM_STATE[to])
        .execution_options(synchronize_session=False)
    )
    set_committed_value(item, "state", ITEM_STATE[to])


def release_expired(session: Session, *, now: datetime) -> int:
    """Expired leases go back to their lane. Conditional per row, so two callers racing on the
    same item release it once and record it once."""
    expired = session.execute(
        select(ReviewItem.id, ReviewItem.submission_id, ReviewItem.senior_only).where(
            ReviewItem.state == ItemState.leased, ReviewItem.lease_expires_at < now
        )
    ).all()
    released = 0
    for item_id, submission_id, senior_only in expired:
        # Conditional on the lease still being expired: two callers racing on one item
        # release it once.
        result = session.execute(
            update(ReviewItem)
            .where(
                ReviewItem.id == item_id,
                ReviewItem.state == ItemState.leased,
                ReviewItem.lease_expires_at < now,
            )
            .values(leased_by=None, lease_token=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            continue
        released += 1
        move(
            session,
            item=session.get_one(ReviewItem, item_id, populate_existing=True),
            submission=session.get_one(Submission, submission_id, populate_existing=True),
            to=S.escalated if senior_only else S.in_queue,
            cause="review.lease_expired",
            actor="system:lease",
        )
        audit.record(
            session,
            actor="system:lease",
            action="review.lease_expired",
            object_type="review_item",
            object_id=item_id,
            data={"submission_id": submission_id},
        )
    return released


def _next_in_lane(
    session: Session, *, reviewer: Principal, senior_only: bool, item_id: str | None = None
) -> str | None:
    """The first item of the lane this reviewer may take; with `item_id`, that item if they may
    take it. One query for both, so claiming from the queue and from an item's page can never
    disagree about who may judge what."""
    state = ItemState.escalated if senior_only else ItemState.pending
    stmt = (
        select(ReviewItem.id)
        .where(ReviewItem.state == state, ReviewItem.senior_only == senior_only)
        # Four-eyes: the first approver never gives the second approval.
        .where(
            (ReviewItem.first_reviewer_id.is_(None)) | (ReviewItem.first_reviewer_id != reviewer.id)
        )
        # An appealed claim is judged by people outside the decisions appealed against: no
        # one who decided it before takes it again (the second approval of an upheld appeal).
        .where(
            ~exists().where(
                Appeal.submission_id == ReviewItem.submission_id,
                Decision.submission_id == ReviewItem.submission_id,
                Decision.reviewer_id == reviewer.id,
            )
        )
        .order_by(ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id)
        .limit(1)
        # Postgres: concurrent claimers skip each other's rows instead of queuing on them.
        # SQLite ignores this; its BEGIN IMMEDIATE already serialises writers.
        .with_for_update(of=ReviewItem, skip_locked=True)
    )
    if item_id is not None:
        stmt = stmt.where(ReviewItem.id == item_id)
    if reviewer.unit_id is not None:
        # Conflict of interest: a reviewer linked to a unit never sees that unit's claims.
        stmt = stmt.join(Submission, Submission.id == ReviewItem.submission_id).where(
            Submission.unit_id != reviewer.unit_id
        )
    return session.scalar(stmt)


def claim_next(
    session: Session, *, reviewer: Principal, now: datetime, lease_seconds: int
) -> tuple[ReviewItem, Submission] | None:
    """The reviewer's next item: one still leased to them first (a tab closed without a
    decision must not strand it), else the first item of their lanes."""
    policy.require(reviewer, Action.review)
    release_expired(session, now=now)
    held = own_leases(session, reviewer=reviewer, now=now)
    if held:
        return held[0]
    lanes = (True, False) if policy.allows(reviewer, Action.take_escalated) else (False,)
    for senior_only in lanes:
        item_id = _next_in_lane(session, reviewer=reviewer, senior_only=senior_only)
        if item_id is not None and _lease(session, reviewer, item_id, senior_only, now,
                                          lease_seconds):  # fmt: skip
            return _leased(session, reviewer=reviewer, item_id=item_id)
    return None


def claim_item(
    session: Session, *, reviewer: Principal, item_id: str, now: datetime, lease_seconds: int
) -> tuple[ReviewItem, Submission]:
    """Claims one listed item from its own page, under the same rules as `claim_next`."""
    policy.require(reviewer, Action.review)
    release_expired(session, now=now)
    for held in own_leases(session, reviewer=reviewer, now=now):
        if held[0].id == item_id:
            return held
    lanes = (True, False) if policy.allows(reviewer, Action.take_escalated) else (False,)
    for senior_only in lanes:
        found = _next_in_lane(session, reviewer=reviewer, senior_only=senior_only, item_id=item_id)
        if found is not None and _lease(session, reviewer, found, senior_only, now,
                                        lease_seconds):  # fmt: skip
            return _leased(session, reviewer=reviewer, item_id=found)
    raise Conflict(
        "someone else holds this item, it has been decided, or it is not yours to judge",
        code="not_claimable",
    )


def own_leases(
    session: Session, *, reviewer: Principal, now: datetime
) -> list[tuple[ReviewItem, Submission]]:
    """Items leased to this reviewer whose lease still runs, the oldest claim first."""
    rows = session.execute(
        select(ReviewItem, Submission)
        .join(Submission, Submission.id == ReviewItem.submission_id)
        .where(
            ReviewItem.state == ItemState.leased,
            ReviewItem.leased_by == reviewer.id,
            ReviewItem.lease_expires_at > now,
        )
        .order_by(ReviewItem.leased_at, ReviewItem.id)
        .execution_options(populate_existing=True)
    ).all()
    return [(item, submission) for item, submission in rows]


def _lease(
    session: Session,
    reviewer: Principal,
    item_id: str,
    senior_only: bool,
    now: datetime,
    lease_seconds: int,
) -> bool:
    # Conditional: if anything claimed it in between, no row changes and the caller moves on.
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == item_id,
            ReviewItem.state == (ItemState.escalated if senior_only else ItemState.pending),
        )
        .values(
            leased_by=reviewer.id,
            lease_token=secrets.token_urlsafe(24),
            leased_at=now,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


def _leased(
    session: Session, *, reviewer: Principal, item_id: str
) -> tuple[ReviewItem, Submission]:
    item = session.get_one(ReviewItem, item_id, populate_existing=True)
    submission = session.get_one(Submission, item.submission_id, populate_existing=True)
    move(session, item=item, submission=submission, to=S.in_review,
         cause="review.leased", actor=reviewer.actor)  # fmt: skip
    audit.record(
        session,
        actor=reviewer.actor,
        action="review.leased",
        object_type="review_item",
        object_id=item.id,
        data={"submission_id": submission.id, "expires_at": item.lease_expires_at},
    )
    return item, submission


def renew_lease(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    lease_token: str,
    now: datetime,
    lease_seconds: int,
) -> datetime:
    """The page's heartbeat: a live lease held by this reviewer runs for another period.

    Not audited: a heartbeat every few minutes from every open page would bury the events
    that matter. What the chain needs is who held the item and when that ended, and the
    claim (`review.leased`), the release (`review.released`), the expiry
    (`review.lease_expired`) and the decision record exactly that."""
    policy.require(reviewer, Action.review)
    expires = now + timedelta(seconds=lease_seconds)
    result = session.execute(
        update(ReviewItem)
        .where(*_held(reviewer, item_id, lease_token, now))
        .values(lease_expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    return expires


class LeaseLost(Conflict):
    """The reviewer no longer holds the item: it expired, was released, or went to someone
    else. Said in words a reviewer acts on; the code is what pages and scripts branch on."""

    def __init__(self) -> None:
        super().__init__(
            "You no longer hold this item (your time ran out or it was released), so nothing "
            "was saved. Claim it again to continue.",
            code="stale_lease",
        )


def release(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    lease_token: str,
    now: datetime,
    reason: str,
) -> None:
    """The reviewer gives the item back (idle page, undo's hand-over, or by choice): it returns
    to its lane at once rather than when the lease would have expired. Audited, with why."""
    policy.require(reviewer, Action.review)
    result = session.execute(
        update(ReviewItem)
        .where(*_held(reviewer, item_id, lease_token, now))
        .values(leased_by=None, lease_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    item = session.get_one(ReviewItem, item_id, populate_existing=True)
    submission = session.get_one(Submission, item.submission_id, populate_existing=True)
    move(session, item=item, submission=submission,
         to=S.escalated if item.senior_only else S.in_queue,
         cause="review.released", actor=reviewer.actor)  # fmt: skip
    audit.record(
        session,
        actor=reviewer.actor,
        action="review.released",
        object_type="review_item",
        object_id=item_id,
        data={"submission_id": submission.id, "reason": reason},
    )


def _held(reviewer: Principal, item_id: str, lease_token: str, now: datetime) -> tuple:  # type: ignore[type-arg]
    return (
        ReviewItem.id == item_id,
        ReviewItem.state == ItemState.leased,
        ReviewItem.leased_by == reviewer.id,
        ReviewItem.lease_token == lease_token,
        ReviewItem.lease_expires_at > now,
    )


def _validated(
    prices: rules.PriceTable,
    *,
    submission: Submission,
    decision: str,
    target_type: str | None,
    outcome: str | None,
    reason_code: str | None,
) -> tuple[str, str]:
    if decision not in set(DecisionKind):
        raise Invalid("decision must be approve, reject or escalate", code="bad_decision")
    if decision == DecisionKind.reject and reason_code not in REJECT_REASONS:
        raise Invalid(
            f"a rejection needs reason_code in {sorted(REJECT_REASONS)}", code="bad_reason_code"
        )
    if outcome is not None and outcome not in set(Outcome):
        raise Invalid("unknown outcome", code="bad_outcome")
    final_target = (target_type or submission.target_type).strip().lower()
    final_outcome = outcome or submission.outcome
    if decision == DecisionKind.approve and final_target not in prices.target_types:
        raise Invalid(f"unknown target_type {final_target!r}", code="unknown_target_type")
    return final_target, final_outcome


@dataclass(frozen=True)
class Decided:
    """A recorded decision, the claim after it, and the prices an award would use."""

    decision: Decision
    submission: Submission
    prices: rules.PriceTable


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
) -> Decided:
    policy.require(reviewer, Action.review)
    # Fresh from the database: claims and decisions change items by conditional UPDATEs.
    item = session.get(ReviewItem, item_id, populate_existing=True)
    if item is None:
        raise NotFound("no such review item")
    submission = session.get_one(Submission, item.submission_id, populate_existing=True)
    prices = rules.price_table(session, at=submission.occurred_at)
    final_target, final_outcome = _validated(
        prices,
        submission=submission,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
    )
    second_look = item.first_reviewer_id is not None
    status, senior_only = _next_place(
        item=item,
        decision=DecisionKind(decision),
        worth=prices.worth(final_target, final_outcome),
    )
    first_approval = decision == DecisionKind.approve and status == S.in_queue
    leased_at = item.leased_at
    from_senior_lane = item.senior_only
    # The lease check and the release are one conditional update: a stale or stolen lease
    # changes nothing.
    result = session.execute(
        update(ReviewItem)
        .where(*_held(reviewer, item.id, lease_token, now))
        .values(
            senior_only=senior_only,
            first_reviewer_id=reviewer.id if first_approval else item.first_reviewer_id,
            leased_by=None,
            lease_token=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    record = Decision(
        review_item_id=item.id,
        submission_id=submission.id,
        reviewer_id=reviewer.id,
        decision=decision,
        target_type=final_target,
        outcome=final_outcome,
        reason_code=reason_code,
        comment=comment,
        stage=Stage.second if second_look else Stage.review,
        lease_token=lease_token,
        leased_at=leased_at,
        from_senior_lane=from_senior_lane,
    )
    session.add(record)
    session.flush()
    move(session, item=item, submission=submission, to=status,
         cause=f"review.{decision}", actor=reviewer.actor,
         data={"decision_id": record.id})  # fmt: skip
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
            "stage": record.stage,
            "needs_second_approval": first_approval,
            binding.ROW_DIGEST: binding.row_digest(record),
        },
    )
    return Decided(record, submission, prices)


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
    latest = latest_decision(session, submission_id=submission.id)
    appealed = session.scalar(select(exists().where(Appeal.submission_id == submission.id)))
    if latest is None or latest.id != last.id or appealed or item.state == ItemState.leased:
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
    record = Decision(
        review_item_id=item.id,
        submission_id=submission.id,
        reviewer_id=reviewer.id,
        decision=Stage.undo,
        target_type=last.target_type,
        outcome=last.outcome,
        stage=Stage.undo,
        lease_token=token,
        leased_at=now,
        overturns_id=last.id,
    )
    session.add(record)
    session.flush()
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


def _next_place(
    *, item: ReviewItem, decision: DecisionKind, worth: int | None
) -> tuple[SubmissionStatus, bool]:
    """Where a claim goes after a decision: (its status, whether only seniors may take it)."""
    if decision == DecisionKind.escalate:
        return S.escalated, True
    if decision == DecisionKind.reject:
        # A second reviewer who disagrees with the first approval does not overrule it alone.
        if item.first_reviewer_id is not None and not item.senior_only:
            return S.escalated, True
        return S.rejected, False
    if _needs_two(worth) and item.first_reviewer_id is None:
        return S.in_queue, False
    return S.approved, False


def _needs_two(worth: int | None) -> bool:
    return worth is not None and worth >= get_settings().four_eyes_points


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
) -> Decided:
    """A senior replaces a final decision. The ledger gains a reversal or an award (the flow's
    business); nothing earlier is changed."""
    policy.require(senior, Action.overturn)
    item = session.scalar(
        select(ReviewItem)
        .where(ReviewItem.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    submission = (
        session.get(Submission, item.submission_id, populate_existing=True) if item else None
    )
    if item is None or submission is None or not may_view(senior, submission=submission):
        raise NotFound("no such review item")
    previous = latest_decision(session, submission_id=submission.id)
    if item.state != ItemState.decided or previous is None:
        raise Conflict("only a final decision can be overturned", code="not_decided")
    if decision not in (DecisionKind.approve, DecisionKind.reject):
        raise Invalid("an overturn approves or rejects", code="bad_decision")
    approved = submission.status == S.approved
    if decision == (DecisionKind.approve if approved else DecisionKind.reject):
        raise Conflict(f"the claim is already {submission.status}", code="nothing_to_overturn")
    prices = rules.price_table(session, at=submission.occurred_at)
    final_target, final_outcome = _validated(
        prices,
        submission=submission,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
    )
    record = Decision(
        review_item_id=item.id,
        submission_id=submission.id,
        reviewer_id=senior.id,
        decision=decision,
        target_type=final_target,
        outcome=final_outcome,
        reason_code=reason_code,
        comment=comment,
        stage=Stage.overturn,
        overturns_id=previous.id,
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=senior.actor,
        action="review.overturn",
        object_type="decision",
        object_id=record.id,
        data={
            "submission_id": submission.id,
            "overturns": previous.id,
            binding.ROW_DIGEST: binding.row_digest(record),
            "from": submission.status,
            "to": decision,
            "reason_code": reason_code,
            "needs_second_approval": decision == DecisionKind.approve
            and _needs_two(prices.worth(final_target, final_outcome)),
        },
    )
    to = S.approved if decision == DecisionKind.approve else S.rejected
    if to == S.approved and _needs_two(prices.worth(final_target, final_outcome)):
        # Four-eyes holds for seniors too: the overturn goes to the seniors' lane, and another
        # senior's approval is the one that scores.
        to = S.escalated
        session.execute(
            update(ReviewItem)
            .where(ReviewItem.id == item.id)
            .values(senior_only=True, first_reviewer_id=senior.id)
            .execution_options(synchronize_session=False)
        )
    move(session, item=item, submission=submission, to=to, cause="review.overturn",
         actor=senior.actor, data={"decision_id": record.id})  # fmt: skip
    return Decided(record, submission, prices)


def latest_decision(session: Session, *, submission_id: str) -> Decision | None:
    return session.scalar(
        select(Decision)
        .where(Decision.submission_id == submission_id)
        .order_by(Decision.created_at.desc(), Decision.id.desc())
        .limit(1)
    )


def decisions_of(session: Session, *, submission_id: str) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision)
            .where(Decision.submission_id == submission_id)
            .order_by(Decision.created_at, Decision.id)
        )
    )


def standing(session: Session, *, submission_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Where each claim stands now (status and latest decision): evidence that names another
    claim shows this, read when shown, never the status at the time the flag was written."""
    ids = list(dict.fromkeys(submission_ids))
    found: dict[str, dict[str, Any]] = {
        sid: {"submission_status": status, "decision": None, "decided_at": None}
        for sid, status in session.execute(
            select(Submission.id, Submission.status).where(Submission.id.in_(ids))
        )
    }
    for d in session.scalars(
        select(Decision).where(Decision.submission_id.in_(ids)).order_by(Decision.created_at)
    ):
        found[d.submission_id] |= {"decision": d.decision, "decided_at": d.created_at}
    return found


def live_evidence(session: Session, flag: Flag) -> dict[str, Any]:
    """The flag's evidence with each claim it names ("matches", "claims") as it stands now."""
    entries = [e for key in ("matches", "claims") for e in flag.evidence.get(key, [])]
    now = standing(session, submission_ids=[e["submission_id"] for e in entries])
    return {
        key: [e | now.get(e["submission_id"], {}) for e in value]
        if key in ("matches", "claims") else value
        for key, value in flag.evidence.items()
    }  # fmt: skip
