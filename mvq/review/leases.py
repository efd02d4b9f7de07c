"""The review queue's items and their leases: one lease holder per item.

Lanes: an item waits either for any reviewer (`pending`) or for a senior (`escalated`,
`senior_only`). Claiming, renewing, releasing and the expiry of a lease live here; what a
reviewer decides under a lease lives in `mvq.review.decisions`.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from mvq.audit import service as audit
from mvq.auth import policy
from mvq.auth.policy import Action
from mvq.auth.principal import Principal
from mvq.errors import Conflict, Forbidden
from mvq.review.models import Appeal, Decision, ItemState, ReviewItem
from mvq.rules import service as rules
from mvq.submissions import lifecycle, visibility
from mvq.submissions.models import Flag, Submission, SubmissionStatus

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
        # Nor a claim whose evidence touches that unit (its copy, its dispute).
        stmt = stmt.join(Submission, Submission.id == ReviewItem.submission_id).where(
            Submission.unit_id != reviewer.unit_id,
            ~visibility.evidence_touches_unit(reviewer.unit_id),
        )
    return session.scalar(stmt)


def _refuse_if_conflicted(session: Session, *, reviewer: Principal, item_id: str) -> None:
    """Claiming by id an item whose claim touches the reviewer's unit is refused outright (a
    403 the page and scripts can tell from an item someone else took)."""
    if reviewer.unit_id is None:
        return
    touches = session.scalar(
        select(exists().where(
            ReviewItem.id == item_id,
            Submission.id == ReviewItem.submission_id,
            visibility.evidence_touches_unit(reviewer.unit_id),
        ))
    )  # fmt: skip
    if touches:
        raise Forbidden(
            "this claim's evidence involves the unit you are linked to, so you may not judge it",
            code="conflict_of_interest",
        )


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


def has_next(session: Session, *, reviewer: Principal) -> bool:
    """Whether a claim now would find a live item in one of the reviewer's lanes; a QA item is
    served only then (mvq.flows.qa), so an empty queue never yields one."""
    lanes = (True, False) if policy.allows(reviewer, Action.take_escalated) else (False,)
    return any(
        _next_in_lane(session, reviewer=reviewer, senior_only=lane) is not None for lane in lanes
    )


def claim_item(
    session: Session,
    *,
    reviewer: Principal,
    item_id: str,
    now: datetime,
    lease_seconds: int,
    assigned_by: Principal | None = None,
) -> tuple[ReviewItem, Submission]:
    """Claims one listed item from its own page, under the same rules as `claim_next`. With
    `assigned_by`, a senior hands it to `reviewer` (a reassignment): the same rules hold for
    the reviewer, and the senior is the one the audit names."""
    policy.require(reviewer, Action.review)
    if assigned_by is not None:
        policy.require(assigned_by, Action.act_in_bulk)
    _refuse_if_conflicted(session, reviewer=reviewer, item_id=item_id)
    release_expired(session, now=now)
    for held in own_leases(session, reviewer=reviewer, now=now):
        if held[0].id == item_id:
            return held
    lanes = (True, False) if policy.allows(reviewer, Action.take_escalated) else (False,)
    for senior_only in lanes:
        found = _next_in_lane(session, reviewer=reviewer, senior_only=senior_only, item_id=item_id)
        if found is not None and _lease(session, reviewer, found, senior_only, now,
                                        lease_seconds):  # fmt: skip
            return _leased(session, reviewer=reviewer, item_id=found, assigned_by=assigned_by)
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
    session: Session, *, reviewer: Principal, item_id: str, assigned_by: Principal | None = None
) -> tuple[ReviewItem, Submission]:
    item = session.get_one(ReviewItem, item_id, populate_existing=True)
    submission = session.get_one(Submission, item.submission_id, populate_existing=True)
    actor = (assigned_by or reviewer).actor
    action = "review.reassigned" if assigned_by is not None else "review.leased"
    move(session, item=item, submission=submission, to=S.in_review, cause=action,
         actor=actor)  # fmt: skip
    data = {"submission_id": submission.id, "expires_at": item.lease_expires_at}
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="review_item",
        object_id=item.id,
        data=data if assigned_by is None else {**data, "to": reviewer.id},
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
        .where(*held(reviewer, item_id, lease_token, now))
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
        .where(*held(reviewer, item_id, lease_token, now))
        .values(leased_by=None, lease_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise LeaseLost()
    _back_to_lane(session, item_id=item_id, actor=reviewer.actor, data={"reason": reason})


def _back_to_lane(session: Session, *, item_id: str, actor: str, data: dict[str, str]) -> None:
    """After the lease was cleared: the claim returns to its lane (the seniors' for an
    escalated item), audited as released."""
    item = session.get_one(ReviewItem, item_id, populate_existing=True)
    submission = session.get_one(Submission, item.submission_id, populate_existing=True)
    move(session, item=item, submission=submission,
         to=S.escalated if item.senior_only else S.in_queue,
         cause="review.released", actor=actor)  # fmt: skip
    audit.record(session, actor=actor, action="review.released", object_type="review_item",
                 object_id=item_id, data={"submission_id": submission.id, **data})  # fmt: skip


def take_back(session: Session, *, senior: Principal, item_id: str) -> str:
    """A senior takes a lease back from whoever holds it (a reviewer gone home, an item to hand
    to someone else): the item returns to its lane at once. Returns the holder's id."""
    policy.require(senior, Action.act_in_bulk)
    item = session.get(ReviewItem, item_id, populate_existing=True)
    if item is None or item.state != ItemState.leased or item.leased_by is None:
        raise Conflict("nobody holds this item", code="not_leased")
    holder = item.leased_by
    # Conditional on the same holder and token: a decision made meanwhile keeps its item.
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == item_id,
            ReviewItem.state == ItemState.leased,
            ReviewItem.leased_by == holder,
            ReviewItem.lease_token == item.lease_token,
        )
        .values(leased_by=None, lease_token=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("nobody holds this item", code="not_leased")
    _back_to_lane(session, item_id=item_id, actor=senior.actor,
                  data={"reason": "senior", "holder": holder})  # fmt: skip
    return holder


def held(reviewer: Principal, item_id: str, lease_token: str, now: datetime) -> tuple:  # type: ignore[type-arg]
    """The conditions of a live lease on the item held by this reviewer under this token: a
    change made under them is a conditional UPDATE, so a stale or stolen lease changes nothing."""
    return (
        ReviewItem.id == item_id,
        ReviewItem.state == ItemState.leased,
        ReviewItem.leased_by == reviewer.id,
        ReviewItem.lease_token == lease_token,
        ReviewItem.lease_expires_at > now,
    )
