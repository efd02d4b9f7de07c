"""Decisions on review items: the reviewer's (approve, reject, escalate, under their lease) and
the senior's overturn of a final one, each appended as a Decision row that one builder makes.

A claim worth at least `four_eyes_points` needs two approvals by two different people before it
scores; a second reviewer who disagrees sends it to the seniors.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mvq.audit import binding
from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Invalid, NotFound
from mvq.review import pace, warnings
from mvq.review.leases import LeaseLost, held, may_view, move
from mvq.review.models import Decision, DecisionKind, ItemState, ReviewItem, Stage
from mvq.rules import service as rules
from mvq.rules.models import Outcome
from mvq.settings import get_settings
from mvq.submissions.models import Submission, SubmissionStatus

S = SubmissionStatus
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


def validated(
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


def append(
    session: Session,
    *,
    item: ReviewItem,
    reviewer: Principal,
    decision: str,
    target_type: str,
    outcome: str,
    stage: Stage,
    reason_code: str | None = None,
    comment: str | None = None,
    lease_token: str | None = None,
    leased_at: datetime | None = None,
    from_senior_lane: bool | None = None,
    overturns_id: str | None = None,
) -> Decision:
    """The one place a Decision row is made (decide, undo, overturn): appended, never changed."""
    record = Decision(
        review_item_id=item.id,
        submission_id=item.submission_id,
        reviewer_id=reviewer.id,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
        comment=comment,
        stage=stage,
        lease_token=lease_token,
        leased_at=leased_at,
        from_senior_lane=from_senior_lane,
        overturns_id=overturns_id,
    )
    session.add(record)
    session.flush()
    return record


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
    override: bool = False,
) -> Decided:
    """`override` is the second key after a too-fast warning (review.pace): without it, such
    a verdict is refused with `TooFast` once its warning is recorded."""
    policy.require(reviewer, Action.review)
    # Fresh from the database: claims and decisions change items by conditional UPDATEs.
    item = session.get(ReviewItem, item_id, populate_existing=True)
    if item is None:
        raise NotFound("no such review item")
    submission = session.get_one(Submission, item.submission_id, populate_existing=True)
    prices = rules.price_table(session, at=submission.occurred_at)
    final_target, final_outcome = validated(
        prices,
        submission=submission,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
    )
    if item.lease_token == lease_token:
        check_pace(session, reviewer=reviewer, item=item, decision=decision, now=now,
                    override=override)  # fmt: skip
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
        .where(*held(reviewer, item.id, lease_token, now))
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
    record = append(
        session,
        item=item,
        reviewer=reviewer,
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


def check_pace(
    session: Session,
    *,
    reviewer: Principal,
    item: ReviewItem,
    decision: str,
    now: datetime,
    override: bool,
) -> None:
    """The too-fast rule (review.pace) for a verdict on `item`: refused with `TooFast` once its
    warning is recorded, or let through with the override on record."""
    found = pace.haste(session, reviewer=reviewer, item=item, decision=decision, now=now)
    if found is None:
        return
    if not override:
        shown = warnings.too_fast_shown(session, reviewer=reviewer, item=item, found=found,
                                        decision=decision)  # fmt: skip
        raise warnings.TooFast(found, shown)
    warnings.too_fast_overridden(session, reviewer=reviewer, item=item, found=found,
                                 decision=decision)  # fmt: skip


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
    final_target, final_outcome = validated(
        prices,
        submission=submission,
        decision=decision,
        target_type=target_type,
        outcome=outcome,
        reason_code=reason_code,
    )
    record = append(
        session,
        item=item,
        reviewer=senior,
        decision=decision,
        target_type=final_target,
        outcome=final_outcome,
        reason_code=reason_code,
        comment=comment,
        stage=Stage.overturn,
        overturns_id=previous.id,
    )
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


def latest_decisions(session: Session, *, submission_ids: list[str]) -> dict[str, Decision]:
    """Each claim's latest decision of any stage (an undo or an overturn too): the one rule
    for "the latest", the last by time and then by id, which every reader asks here."""
    latest: dict[str, Decision] = {}
    for decision in session.scalars(
        select(Decision)
        .where(Decision.submission_id.in_(list(dict.fromkeys(submission_ids))))
        .order_by(Decision.created_at, Decision.id)
    ):
        latest[decision.submission_id] = decision
    return latest


def latest_decision(session: Session, *, submission_id: str) -> Decision | None:
    return latest_decisions(session, submission_ids=[submission_id]).get(submission_id)


def decisions_of(session: Session, *, submission_id: str) -> list[Decision]:
    return list(
        session.scalars(
            select(Decision)
            .where(Decision.submission_id == submission_id)
            .order_by(Decision.created_at, Decision.id)
        )
    )
